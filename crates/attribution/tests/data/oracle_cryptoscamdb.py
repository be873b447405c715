# Independent oracle for the CryptoScamDB loader: entries split at top-level "- " lines,
# parsed with PyYAML; addresses validated with hand-written EIP-55 (Keccak-256), Base58Check
# and Bech32/Bech32m checks.
import hashlib, sys, yaml, re
RC=[0x0000000000000001,0x0000000000008082,0x800000000000808A,0x8000000080008000,0x000000000000808B,0x0000000080000001,0x8000000080008081,0x8000000000008009,0x000000000000008A,0x0000000000000088,0x0000000080008009,0x000000008000000A,0x000000008000808B,0x800000000000008B,0x8000000000008089,0x8000000000008003,0x8000000000008002,0x8000000000000080,0x000000000000800A,0x800000008000000A,0x8000000080008081,0x8000000000008080,0x0000000080000001,0x8000000080008008]
ROT=[[0,36,3,41,18],[1,44,10,45,2],[62,6,43,15,61],[28,55,25,21,56],[27,20,39,8,14]]
M=(1<<64)-1
def rol(x,n): return ((x<<n)|(x>>(64-n)))&M if n else x
def kf(A):
    for rc in RC:
        C=[A[x][0]^A[x][1]^A[x][2]^A[x][3]^A[x][4] for x in range(5)]
        D=[C[(x-1)%5]^rol(C[(x+1)%5],1) for x in range(5)]
        A=[[A[x][y]^D[x] for y in range(5)] for x in range(5)]
        B=[[0]*5 for _ in range(5)]
        for x in range(5):
            for y in range(5): B[y][(2*x+3*y)%5]=rol(A[x][y],ROT[x][y])
        A=[[B[x][y]^((~B[(x+1)%5][y])&B[(x+2)%5][y]) for y in range(5)] for x in range(5)]
        A[0][0]^=rc
    return A
def keccak256(data):
    rate=136; p=bytearray(data)+b'\x01'
    while len(p)%rate: p+=b'\x00'
    p[-1]|=0x80
    A=[[0]*5 for _ in range(5)]
    for off in range(0,len(p),rate):
        blk=p[off:off+rate]
        for i in range(rate//8):
            A[i%5][i//5]^=int.from_bytes(blk[8*i:8*i+8],'little')
        A=kf(A)
    out=b''.join(A[i%5][i//5].to_bytes(8,'little') for i in range(4))
    return out
assert keccak256(b'').hex()=='c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470'
def eth_ok(s):
    b=s[2:] if s[:2] in ('0x','0X') else s
    if len(b)!=40 or not re.fullmatch('[0-9a-fA-F]{40}',b): return False
    if b==b.lower() or b==b.upper(): return True
    h=keccak256(b.lower().encode()).hex()
    return all((not c.isalpha()) or (c.isupper()==(int(h[i],16)>=8)) for i,c in enumerate(b))
A58='123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
def b58(s):
    n=0
    for c in s:
        if c not in A58: return None
        n=n*58+A58.index(c)
    raw=n.to_bytes((n.bit_length()+7)//8,'big') if n else b''
    raw=b'\x00'*(len(s)-len(s.lstrip('1')))+raw
    if len(raw)<5: return None
    body,ck=raw[:-4],raw[-4:]
    return body if hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4]==ck else None
BECH='qpzry9x8gf2tvdw0s3jn54khce6mua7l'
def polymod(v):
    g=[0x3b6a57b2,0x26508e6d,0x1ea119fa,0x3d4233dd,0x2a1462b3]; c=1
    for x in v:
        b=c>>25; c=(c&0x1ffffff)<<5^x
        for i in range(5): c^=g[i] if (b>>i)&1 else 0
    return c
def bech_ok(s):
    if s.lower()!=s and s.upper()!=s: return False
    s=s.lower(); pos=s.rfind('1')
    hrp,data=s[:pos],s[pos+1:]
    if hrp!='bc' or len(data)<6 or any(c not in BECH for c in data): return False
    d=[BECH.index(c) for c in data]
    pm=polymod([ord(c)>>5 for c in hrp]+[0]+[ord(c)&31 for c in hrp]+d)
    ver=d[0]
    if ver==0 and pm!=1: return False
    if ver>0 and pm!=0x2bc830a3: return False
    # program length
    bits=0;acc=0;prog=[]
    for v in d[1:-6]:
        acc=(acc<<5)|v; bits+=5
        while bits>=8: bits-=8; prog.append((acc>>bits)&255)
    if bits>=5 or (acc & ((1<<bits)-1)): return False
    if ver==0 and len(prog) not in (20,32): return False
    if not (2<=len(prog)<=40): return False
    return True
def btc_ok(s):
    if s.lower().startswith('bc1'): return bech_ok(s)
    b=b58(s); return b is not None and len(b)==21 and b[0] in (0,5)
def trx_ok(s):
    b=b58(s); return b is not None and len(b)==21 and b[0]==0x41
def valid(tk,s):
    tk=tk.upper(); s=s.strip()
    if tk in ('BTC','XBT'): return btc_ok(s) or eth_ok(s) or trx_ok(s)
    if tk=='ETH': return eth_ok(s) or btc_ok(s) or trx_ok(s)
    if tk=='TRX': return trx_ok(s) or eth_ok(s) or btc_ok(s)
    if tk in ('USDT','USDC'):
        if eth_ok(s) or trx_ok(s): return True
        return None if btc_ok(s) else False  # Omni USDT on Bitcoin: unsupported
    return None
CATS={'phishing','scamming','scam','malware','hacked'}
tot=0; badentries=0; badaddr=0; unsup=0; entries=0; badcat=0
for f in sys.argv[1:]:
    lines=open(f).read().split('\n')
    starts=[i for i,l in enumerate(lines) if l.startswith('- ')]
    for k,st in enumerate(starts):
        entries+=1
        end=starts[k+1] if k+1<len(starts) else len(lines)
        try: e=yaml.safe_load('\n'.join(lines[st:end]))[0]
        except Exception: badentries+=1; continue
        if not e.get('addresses'): continue
        if str(e.get('category','')).lower() not in CATS: badcat+=1; continue
        for tk,lst in e['addresses'].items():
            for a in lst:
                v=valid(tk,str(a))
                if v is None: unsup+=1
                elif v: tot+=1
                else: badaddr+=1
print(dict(entries=entries,tags=tot,bad_entries=badentries,bad_addresses=badaddr,bad_category=badcat,unsupported=unsup))
