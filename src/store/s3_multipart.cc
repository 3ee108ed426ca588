// Writes to S3: the object writer (one PutObject, or a multipart upload of bounded parts once
// the body outgrows multipart_threshold) and the ObjectStore's own multipart calls.
#include <pugixml.hpp>

#include <cstdio>
#include <cstring>
#include <sstream>

#include "common/logging.h"
#include "sigv4/canonical.h"
#include "sigv4/crypto.h"
#include "store/md5.h"
#include "store/names.h"
#include "store/s3_store_impl.h"

namespace thumbpipe::store::internal {
namespace {

std::string Md5Base64(std::string_view bytes) {
  Md5 md5;
  md5.Update(bytes);
  return sigv4::Base64Encode(md5.Finish());
}

// Ceph RGW answers NoSuchKey for an upload id it does not know; the only thing a request
// naming an upload can miss (besides the bucket) is the upload.
Status UploadStatus(Status s) {
  if (s.code() == StatusCode::kNotFound && s.message().starts_with("NoSuchKey")) {
    return WithCode(s, StatusCode::kNotFound, "NoSuchUpload");
  }
  return s;
}
template <typename T>
Result<T> UploadResult(Result<T> r) {
  if (r.ok()) return r;
  return UploadStatus(r.status());
}

std::string UploadQuery(std::string_view upload_id) {
  return "uploadId=" + sigv4::UriEncode(upload_id, false);
}

Result<pugi::xml_document> ParseXml(const std::string& body, std::string_view what) {
  pugi::xml_document doc;
  if (!doc.load_buffer(body.data(), body.size())) {
    return Status::Unavailable("InternalError the " + std::string(what) + " reply is not XML");
  }
  return doc;
}

// PutObject below the threshold, a multipart upload above it. The buffer never holds more
// than max(threshold, part_size) bytes.
class S3ObjectWriter final : public ObjectWriter {
 public:
  S3ObjectWriter(S3Store* store, std::string bucket, std::string key, PutOptions options)
      : store_(store), bucket_(std::move(bucket)), key_(std::move(key)), options_(std::move(options)) {}
  ~S3ObjectWriter() override {
    if (upload_id_ && !committed_) {
      if (Status s = store_->AbortMultipartUpload(bucket_, key_, *upload_id_); !s.ok()) {
        LogWarn("could not abort an abandoned multipart upload (S3 lifecycle rules clean these up)",
                {{"bucket", bucket_}, {"key", key_}, {"error", s.ToString()}});
      }
    }
  }

  Status Write(std::string_view chunk) override {
    if (!failed_.ok()) return failed_;
    buffer_.append(chunk);
    size_ += chunk.size();
    if (options_.expected_md5) md5_.Update(chunk);
    const S3StoreOptions& o = store_->options();
    if (!upload_id_ && buffer_.size() > o.multipart_threshold) {
      auto id = store_->CreateMultipartUpload(bucket_, key_, options_);
      if (!id.ok()) return failed_ = id.status();
      upload_id_ = *id;
    }
    while (upload_id_ && buffer_.size() >= o.part_size) {
      if (Status s = SendPart(std::string_view(buffer_).substr(0, o.part_size)); !s.ok()) return failed_ = s;
      buffer_.erase(0, o.part_size);
    }
    return Status::Ok();
  }

  Result<ObjectInfo> Commit() override {
    if (!failed_.ok()) return failed_;
    if (committed_) return Status::FailedPrecondition("writer already committed");
    if (!upload_id_) {
      auto info = store_->PutSingle(bucket_, key_, options_, buffer_);
      committed_ = info.ok();
      return info;
    }
    if (!buffer_.empty() || parts_.empty()) THUMBPIPE_RETURN_IF_ERROR(SendPart(buffer_));
    buffer_.clear();
    buffer_.shrink_to_fit();
    if (options_.expected_md5 && md5_.Finish() != *options_.expected_md5) {
      return Status::Corrupt("BadDigest the Content-MD5 you specified did not match what we received (" + bucket_ +
                             "/" + key_ + ")");  // the destructor aborts the upload
    }
    auto info = store_->CompleteMultipartUpload(bucket_, key_, *upload_id_, parts_);
    committed_ = info.ok();
    return info;
  }

 private:
  Status SendPart(std::string_view body) {
    const int number = static_cast<int>(parts_.size()) + 1;
    if (number > 10000) return Status::TooLarge("EntityTooLarge more than 10000 parts: raise part_size");
    THUMBPIPE_ASSIGN_OR_RETURN(std::string etag, store_->UploadPart(bucket_, key_, *upload_id_, number, body, nullptr,
                                                                    Md5Base64(body), sigv4::Sha256Hex(body)));
    parts_.push_back(CompletedPart{number, etag});
    return Status::Ok();
  }

  S3Store* store_;
  std::string bucket_, key_;
  PutOptions options_;
  std::string buffer_;
  uint64_t size_ = 0;
  Md5 md5_;
  std::optional<std::string> upload_id_;
  std::vector<CompletedPart> parts_;
  Status failed_;
  bool committed_ = false;
};

// A part of unknown length written by a caller (the S3 API of a `serve` whose store is S3):
// kept in memory up to part_size, the rest spilled to an unlinked temporary file, then sent
// with its length, MD5 and SHA-256 known, and re-read from the start for a retry.
class SpooledPart final : public aws::BodySource {
 public:
  explicit SpooledPart(uint64_t memory_limit) : memory_limit_(memory_limit) {}
  ~SpooledPart() override {
    if (file_ != nullptr) std::fclose(file_);
  }
  Status Append(std::string_view chunk) {
    md5_.Update(chunk);
    sha_.Update(chunk);
    size_ += chunk.size();
    if (file_ == nullptr && memory_.size() + chunk.size() <= memory_limit_) {
      memory_.append(chunk);
      return Status::Ok();
    }
    if (file_ == nullptr && (file_ = std::tmpfile()) == nullptr) {
      return Status::IOError("cannot create a temporary file to spool a part");
    }
    if (std::fwrite(chunk.data(), 1, chunk.size(), file_) != chunk.size()) {
      return Status::IOError("cannot spool a part to a temporary file");
    }
    return Status::Ok();
  }
  void Finish() {
    md5_b64_ = sigv4::Base64Encode(md5_.Finish());
    sha_hex_ = sha_.FinishHex();
    (void)Rewind();
  }
  uint64_t size() const override { return size_; }
  Result<size_t> Read(std::span<char> buffer) override {
    if (read_ < memory_.size()) {
      const size_t n = std::min(buffer.size(), memory_.size() - read_);
      std::memcpy(buffer.data(), memory_.data() + read_, n);
      read_ += n;
      return n;
    }
    if (file_ == nullptr) return size_t{0};
    const size_t n = std::fread(buffer.data(), 1, buffer.size(), file_);
    if (n == 0 && std::ferror(file_)) return Status::IOError("cannot read a spooled part");
    read_ += n;
    return n;
  }
  Status Rewind() override {
    read_ = 0;
    if (file_ != nullptr && (std::fflush(file_) != 0 || std::fseek(file_, 0, SEEK_SET) != 0)) {
      return Status::IOError("cannot rewind a spooled part");
    }
    return Status::Ok();
  }
  const std::string& md5_b64() const { return md5_b64_; }
  const std::string& sha_hex() const { return sha_hex_; }

 private:
  uint64_t memory_limit_;
  std::string memory_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0, read_ = 0;
  Md5 md5_;
  sigv4::Sha256Hasher sha_;
  std::string md5_b64_, sha_hex_;
};

class S3PartWriter final : public ObjectWriter {
 public:
  S3PartWriter(S3Store* store, std::string bucket, std::string key, std::string upload_id, int number,
               std::optional<std::string> expected_md5)
      : store_(store), bucket_(std::move(bucket)), key_(std::move(key)), upload_id_(std::move(upload_id)),
        number_(number), expected_md5_(std::move(expected_md5)), spool_(store->options().part_size) {}

  Status Write(std::string_view chunk) override { return spool_.Append(chunk); }

  Result<ObjectInfo> Commit() override {
    spool_.Finish();
    if (expected_md5_ && sigv4::Base64Encode(*expected_md5_) != spool_.md5_b64()) {
      return Status::Corrupt("BadDigest the Content-MD5 you specified did not match what we received");
    }
    THUMBPIPE_ASSIGN_OR_RETURN(std::string etag, store_->UploadPart(bucket_, key_, upload_id_, number_, {}, &spool_,
                                                                    spool_.md5_b64(), spool_.sha_hex()));
    ObjectInfo info;
    info.bucket = bucket_;
    info.key = key_;
    info.size = spool_.size();
    info.etag = etag;
    return info;
  }

 private:
  S3Store* store_;
  std::string bucket_, key_, upload_id_;
  int number_;
  std::optional<std::string> expected_md5_;
  SpooledPart spool_;
};

}  // namespace

Result<ObjectInfo> S3Store::PutSingle(std::string_view bucket, std::string_view key, const PutOptions& options,
                                      std::string_view body) {
  aws::HttpRequest r = Request("PUT", bucket, key);
  AddPutHeaders(options, &r.headers);
  if (options.expected_md5) r.headers.push_back({"Content-MD5", sigv4::Base64Encode(*options.expected_md5)});
  r.body = body;
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(r));
  ObjectInfo info;
  info.bucket = std::string(bucket);
  info.key = std::string(key);
  info.size = body.size();
  info.etag = Unquote(reply.Header("etag").value_or(""));
  info.content_type = options.content_type.empty() ? "binary/octet-stream" : options.content_type;
  info.cache_control = options.cache_control;
  info.content_disposition = options.content_disposition;
  info.content_encoding = options.content_encoding;
  info.content_language = options.content_language;
  info.metadata = options.metadata;
  info.last_modified = sigv4::ParseHttpDate(reply.Header("date").value_or("")).value_or(options_.clock->Now());
  return info;
}

Result<std::unique_ptr<ObjectWriter>> S3Store::BeginPut(std::string_view bucket, std::string_view key,
                                                        PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  if (options.expected_md5 && options.expected_md5->size() != 16) {
    return Status::InvalidArgument("InvalidDigest the Content-MD5 must be 16 bytes");
  }
  return std::unique_ptr<ObjectWriter>(
      new S3ObjectWriter(this, std::string(bucket), std::string(key), std::move(options)));
}

Result<std::string> S3Store::CreateMultipartUpload(std::string_view bucket, std::string_view key,
                                                   PutOptions options) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  aws::HttpRequest r = Request("POST", bucket, key, "uploads=");
  AddPutHeaders(options, &r.headers);
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(r));
  THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document doc, ParseXml(reply.body, "CreateMultipartUpload"));
  std::string id = doc.child("InitiateMultipartUploadResult").child_value("UploadId");
  if (id.empty()) return Status::Unavailable("InternalError CreateMultipartUpload returned no UploadId");
  return id;
}

Result<std::string> S3Store::UploadPart(std::string_view bucket, std::string_view key, std::string_view upload_id,
                                        int part_number, std::string_view body, aws::BodySource* source,
                                        const std::string& content_md5_b64, const std::string& sha256_hex) {
  aws::HttpRequest r =
      Request("PUT", bucket, key, "partNumber=" + std::to_string(part_number) + "&" + UploadQuery(upload_id));
  r.headers.push_back({"Content-MD5", content_md5_b64});
  r.body = body;
  r.body_source = source;
  r.payload_hash = sha256_hex;
  r.context = "UploadPart " + std::to_string(part_number) + " of " + std::string(bucket) + "/" + std::string(key);
  THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, UploadResult(client_->Send(r)));
  return Unquote(reply.Header("etag").value_or(""));
}

Result<std::unique_ptr<ObjectWriter>> S3Store::BeginPart(std::string_view bucket, std::string_view key,
                                                         std::string_view upload_id, int part_number,
                                                         std::optional<std::string> expected_md5) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  if (part_number < 1 || part_number > 10000) {
    return Status::InvalidArgument("InvalidArgument part number must be an integer between 1 and 10000");
  }
  // The upload must exist for this key now, not only when the part is sent (S3 would accept
  // the body first): ListParts of one part is the cheapest question.
  aws::HttpRequest check = Request("GET", bucket, key, "max-parts=1&" + UploadQuery(upload_id));
  THUMBPIPE_RETURN_IF_ERROR(UploadStatus(client_->Send(check).status()));
  return std::unique_ptr<ObjectWriter>(new S3PartWriter(this, std::string(bucket), std::string(key),
                                                        std::string(upload_id), part_number, std::move(expected_md5)));
}

Result<ObjectInfo> S3Store::CompleteMultipartUpload(std::string_view bucket, std::string_view key,
                                                    std::string_view upload_id, std::span<const CompletedPart> parts) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  pugi::xml_document doc;
  pugi::xml_node root = doc.append_child("CompleteMultipartUpload");
  root.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
  for (const CompletedPart& p : parts) {
    pugi::xml_node part = root.append_child("Part");
    part.append_child("PartNumber").text() = p.number;
    part.append_child("ETag").text() = ("\"" + Unquote(p.etag) + "\"").c_str();
  }
  std::ostringstream xml;
  doc.save(xml, "", pugi::format_raw);
  const std::string body = xml.str();
  aws::HttpRequest r = Request("POST", bucket, key, UploadQuery(upload_id));
  r.headers.push_back({"Content-Type", "application/xml"});
  r.body = body;
  r.error_in_ok_body = true;
  r.context = "CompleteMultipartUpload " + std::string(bucket) + "/" + std::string(key);
  THUMBPIPE_RETURN_IF_ERROR(UploadStatus(client_->Send(r).status()));
  // Some servers leave the ETag out of the reply (RGW 16); HEAD has everything.
  return Head(bucket, key);
}

Status S3Store::AbortMultipartUpload(std::string_view bucket, std::string_view key, std::string_view upload_id) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  return UploadStatus(client_->Send(Request("DELETE", bucket, key, UploadQuery(upload_id))).status());
}

Result<std::vector<PartInfo>> S3Store::ListParts(std::string_view bucket, std::string_view key,
                                                 std::string_view upload_id) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  THUMBPIPE_RETURN_IF_ERROR(CheckKey(key));
  std::vector<PartInfo> out;
  std::string marker;
  for (;;) {
    std::string query = UploadQuery(upload_id);
    if (!marker.empty()) query = "part-number-marker=" + marker + "&" + query;
    THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, UploadResult(client_->Send(Request("GET", bucket, key, query))));
    THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document doc, ParseXml(reply.body, "ListParts"));
    pugi::xml_node root = doc.child("ListPartsResult");
    for (pugi::xml_node p : root.children("Part")) {
      out.push_back(PartInfo{std::atoi(p.child_value("PartNumber")), std::strtoull(p.child_value("Size"), nullptr, 10),
                             Unquote(p.child_value("ETag")), ParseIsoTime(p.child_value("LastModified"))});
    }
    const std::string next = root.child_value("NextPartNumberMarker");
    if (std::string_view(root.child_value("IsTruncated")) != "true" || next.empty() || next == marker) break;
    marker = next;
  }
  return out;
}

Result<std::vector<UploadInfo>> S3Store::ListMultipartUploads(std::string_view bucket, std::string_view prefix) {
  THUMBPIPE_RETURN_IF_ERROR(CheckBucketName(bucket));
  std::vector<UploadInfo> out;
  std::string key_marker, id_marker;
  for (;;) {
    std::string query = "encoding-type=url&uploads=";
    if (!prefix.empty()) query += "&prefix=" + sigv4::UriEncode(prefix, false);
    if (!key_marker.empty()) query += "&key-marker=" + sigv4::UriEncode(key_marker, false);
    if (!id_marker.empty()) query += "&upload-id-marker=" + sigv4::UriEncode(id_marker, false);
    THUMBPIPE_ASSIGN_OR_RETURN(aws::HttpResponse reply, client_->Send(Request("GET", bucket, "", query)));
    THUMBPIPE_ASSIGN_OR_RETURN(pugi::xml_document doc, ParseXml(reply.body, "ListMultipartUploads"));
    pugi::xml_node root = doc.child("ListMultipartUploadsResult");
    const bool encoded = std::string_view(root.child_value("EncodingType")) == "url";
    for (pugi::xml_node u : root.children("Upload")) {
      std::string k = u.child_value("Key");
      out.push_back(UploadInfo{u.child_value("UploadId"), std::string(bucket), encoded ? UrlDecodeKey(k) : k,
                               ParseIsoTime(u.child_value("Initiated"))});
    }
    std::string next_key = root.child_value("NextKeyMarker");
    if (encoded) next_key = UrlDecodeKey(next_key);
    const std::string next_id = root.child_value("NextUploadIdMarker");
    if (std::string_view(root.child_value("IsTruncated")) != "true" ||
        (next_key == key_marker && next_id == id_marker)) {
      break;
    }
    key_marker = next_key;
    id_marker = next_id;
  }
  return out;
}

}  // namespace thumbpipe::store::internal
