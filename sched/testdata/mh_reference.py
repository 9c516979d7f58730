#!/usr/bin/env python3
# Independent transcription of net/netfilter/ipvs/ip_vs_mh.c and lib/siphash.c
# (64-bit hsiphash = SipHash-1-3, low 32 bits), written from the kernel source
# to compute the expected picks of mh_test.go. Run: python3 mh_reference.py
# Dests are 10.0.0.x:80, clients 203.0.113.i (port 1024+i with mh-port).
M64=(1<<64)-1
def rotl(x,b): return ((x<<b)|(x>>(64-b)))&M64
def sipround(v):
    v0,v1,v2,v3=v
    v0=(v0+v1)&M64; v1=rotl(v1,13); v1^=v0; v0=rotl(v0,32)
    v2=(v2+v3)&M64; v3=rotl(v3,16); v3^=v2
    v0=(v0+v3)&M64; v3=rotl(v3,21); v3^=v0
    v2=(v2+v1)&M64; v1=rotl(v1,17); v1^=v2; v2=rotl(v2,32)
    return [v0,v1,v2,v3]
def hsip(k0,k1,x):
    v=[k0^0x736f6d6570736575,k1^0x646f72616e646f6d,k0^0x6c7967656e657261,k1^0x7465646279746573]
    b=(4<<56)|x
    v[3]^=b; v=sipround(v); v[0]^=b; v[2]^=0xff
    for _ in range(3): v=sipround(v)
    return (v[0]^v[1]^v[2]^v[3])&0xffffffff
def h32(x,bits): return ((x*0x61C88647)&0xffffffff)>>(32-bits)
def ip(s):
    a=[int(p) for p in s.split('.')]; return (a[0]<<24)|(a[1]<<16)|(a[2]<<8)|a[3]
import sys
from math import gcd
K1=(2654435761,2654435761); K2=(2654446892,2654446892)
def hk(key,fold,port,off): return hsip(key[0],key[1],(off+port+fold)&0xffffffff)
def populate(dests,size,bits):  # dests: list of (name, addr, port, lw), newest first
    g=0; mw=0
    for d in dests:
        w=d[3]
        if w>0: g=gcd(w,g) if g>0 else w
        mw=max(mw,w)
    table=[None]*size
    if g<1: return table
    sh=max(0,(mw//g).bit_length()-bits)
    ds=[]
    for d in dests:
        fold=ip(d[1]); off=hk(K1,fold,d[2],0)%size; skip=hk(K2,fold,d[2],0)%(size-1)+1
        t=(d[3]//g)>>sh
        if t==0: t=1 if d[3]!=0 else 0
        ds.append([off,skip,t])
    taken=[False]*size; n=0; cnt=0
    while True:
        i=0
        while i<len(dests):
            if ds[i][2]<1: i+=1; continue
            c=ds[i][0]
            while taken[c]:
                ds[i][0]+=ds[i][1]
                if ds[i][0]>=size: ds[i][0]-=size
                c=ds[i][0]
            taken[c]=True; table[c]=dests[i][0]; n+=1
            if n==size: return table
            cnt+=1
            if cnt>=ds[i][2]: cnt=0; i+=1
def look(table,size,src,port=0): return table[hk(K1,ip(src),port,0)%size]
import sys
for (spec,size,bits) in [([('C','10.0.0.3',80,1),('B','10.0.0.2',80,1),('A','10.0.0.1',80,1)],251,4),
                         ([('C','10.0.0.3',80,2),('B','10.0.0.2',80,3),('A','10.0.0.1',80,4)],4093,6)]:
    t=populate(spec,size,bits)
    from collections import Counter
    print(size, Counter(t))
    print(' '.join(look(t,size,'203.0.113.%d'%i) for i in range(1,13)))
    print(' port', ' '.join(look(t,size,'203.0.113.%d'%i,1024+i) for i in range(1,13)))
    print(' first20', ''.join(t[:20]))
