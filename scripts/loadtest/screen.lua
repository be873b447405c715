-- wrk script: name screening against the loaded lists (alerts not recorded).
local key = os.getenv("FG_KEY")
local names = { "Vladimir Putin", "Nguyen Van An", "Ivan Petrovich Sidorov", "Acme Trading LLC",
  "Ali Hassan", "Maria Garcia", "Kim Jong Un", "John Smith", "Tran Thi Binh", "Huione Group" }
local n = 0
function request()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  local body = '{"name":"' .. names[(n % #names) + 1] .. '","record_alerts":false}'
  return wrk.format("POST", "/v1/screen/name", headers, body)
end
