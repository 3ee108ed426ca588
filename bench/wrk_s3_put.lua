-- bench/wrk_s3_put.lua: wrk as an S3 PUT load generator (issue 4's other suggested tool).
-- Each request is a PutObject of SIZE random bytes to a new key, signed with SigV4
-- (UNSIGNED-PAYLOAD) through LuaJIT's FFI to libcrypto; it costs about half of s3_load's client
-- CPU per PUT (bench/README.md, "S3", eighth session).
--
--   AK=... SK=... [BUCKET=images] [PREFIX=bench/w] [SIZE=4096] \
--     wrk -t1 -c16 -d6s --latency -s bench/wrk_s3_put.lua http://127.0.0.1:PORT
local ffi = require("ffi")
ffi.cdef[[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len, const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
]]
local crypto = ffi.load("libcrypto.so.3")
local md = ffi.new("unsigned char[32]")
local mdlen = ffi.new("unsigned int[1]")
local sha = crypto.EVP_sha256()
local function hmac(key, msg)
  crypto.HMAC(sha, key, #key, msg, #msg, md, mdlen)
  return ffi.string(md, 32)
end
local function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
local function sha256hex(s) crypto.SHA256(s, #s, md); return hex(ffi.string(md, 32)) end

local access = os.getenv("AK"); local secret = os.getenv("SK")
local bucket = os.getenv("BUCKET") or "images"; local prefix = os.getenv("PREFIX") or "bench/w"
local size = tonumber(os.getenv("SIZE") or "4096")
local region = "us-east-1"
local amzdate = os.date("!%Y%m%dT%H%M%SZ"); local day = amzdate:sub(1, 8)
local scope = day .. "/" .. region .. "/s3/aws4_request"
local kdate = hmac("AWS4" .. secret, day); local kreg = hmac(kdate, region)
local ksvc = hmac(kreg, "s3"); local ksign = hmac(ksvc, "aws4_request")
math.randomseed(os.time())
local parts = {}
for i = 1, size do parts[i] = string.char(math.random(0, 255)) end
local body = table.concat(parts)
local host, n  -- tid: a global that setup() gives each thread
local threads = {}
function setup(thread) thread:set("tid", #threads + 1); table.insert(threads, thread) end
function init(args) n = 0; host = wrk.host .. ":" .. wrk.port end
function request()
  n = n + 1
  local path = string.format("/%s/%s%d-%08d.jpg", bucket, prefix, tid or 0, n)
  local canonical = "PUT\n" .. path .. "\n\nhost:" .. host .. "\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:" ..
      amzdate .. "\n\nhost;x-amz-content-sha256;x-amz-date\nUNSIGNED-PAYLOAD"
  local sts = "AWS4-HMAC-SHA256\n" .. amzdate .. "\n" .. scope .. "\n" .. sha256hex(canonical)
  local sig = hex(hmac(ksign, sts))
  return wrk.format("PUT", path, {
    ["Host"] = host, ["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD", ["x-amz-date"] = amzdate,
    ["Authorization"] = "AWS4-HMAC-SHA256 Credential=" .. access .. "/" .. scope ..
        ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" .. sig,
    ["Content-Type"] = "image/jpeg"}, body)
end
