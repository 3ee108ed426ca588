#include "pipeline/job.h"

#include <chrono>

#include "events/event_parse.h"
#include "image/engine.h"
#include "pipeline/freshness.h"

namespace thumbpipe::pipeline {
namespace {

using Steady = std::chrono::steady_clock;

double MsSince(Steady::time_point start) {
  return std::chrono::duration<double, std::milli>(Steady::now() - start).count();
}

bool IsNoSuchKey(const Status& s) {
  return s.code() == StatusCode::kNotFound && s.message().starts_with("NoSuchKey");
}

// Store failures are transient unless the bucket itself is gone: retrying cannot bring it back.
Status ClassifyStoreError(const Status& s, std::string_view what) {
  if (s.code() == StatusCode::kNotFound && s.message().starts_with("NoSuchBucket")) {
    return Status::NotFound(std::string(s.message())).WithContext(what);
  }
  return Status::Unavailable(s.ToString()).WithContext(what);
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kDone: return "done";
    case Verdict::kSkipped: return "skipped";
    case Verdict::kRetry: return "retry";
    case Verdict::kDeadLetter: return "dead_letter";
  }
  return "?";
}

JobReport Job::Run(const queue::Message& message) const {
  const Steady::time_point start = Steady::now();
  JobReport report;
  Result<events::ParsedEvent> parsed = events::ParseEventBody(message.body);
  if (!parsed.ok()) {
    report.verdict = Verdict::kDeadLetter;
    report.error = Status::InvalidArgument(parsed.status().message()).WithContext("not an S3 event");
    report.total_ms = MsSince(start);
    return report;
  }
  bool worked = false;
  Status transient, permanent;
  for (const events::EventRecord& record : parsed->records) {
    if (record.bucket != config_.trigger_bucket || !record.key.starts_with(config_.layout.trigger_prefix)) continue;
    // A rendition written into the trigger prefix (config validation forbids it, but another
    // writer might) must never trigger renditions of itself.
    if (record.bucket == config_.output_bucket && record.key.starts_with(config_.layout.output_prefix)) continue;
    report.keys.push_back(record.key);
    const int before = report.renditions_written + report.renditions_deleted;
    Status s = record.created() ? Created(record.bucket, record.key, report)
             : record.removed() ? Removed(record.bucket, record.key, report)
                                : Status::Ok();
    if (report.renditions_written + report.renditions_deleted > before) worked = true;
    if (s.ok()) continue;
    (s.IsPermanent() ? permanent : transient) = s.WithContext(record.key);
  }
  if (!permanent.ok()) {
    report.verdict = Verdict::kDeadLetter;
    report.error = permanent;
  } else if (!transient.ok()) {
    report.verdict = Verdict::kRetry;
    report.error = transient;
  } else {
    report.verdict = worked ? Verdict::kDone : Verdict::kSkipped;
  }
  report.total_ms = MsSince(start);
  return report;
}

Result<std::string> Job::ReadSource(std::string_view key, std::string* etag) const {
  Result<std::unique_ptr<store::ObjectReader>> reader = store_.Get(config_.trigger_bucket, key);
  if (!reader.ok()) return reader.status();
  const store::ObjectInfo& info = (*reader)->info();
  if (info.size > config_.max_input_bytes) {
    return Status::TooLarge("source is " + std::to_string(info.size) + " bytes, over limits.max_input_bytes (" +
                            std::to_string(config_.max_input_bytes) + ")");
  }
  *etag = info.etag;
  std::string bytes;
  bytes.resize(info.size);
  size_t filled = 0;
  while (true) {
    if (filled == bytes.size()) bytes.resize(bytes.size() + 4096);  // the object grew? read to the end
    Result<size_t> n = (*reader)->Read(std::span<char>(bytes.data() + filled, bytes.size() - filled));
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    filled += *n;
    if (filled > config_.max_input_bytes) return Status::TooLarge("source grew over limits.max_input_bytes");
  }
  bytes.resize(filled);
  return bytes;
}

Status Job::Created(std::string_view bucket, std::string_view key, JobReport& report) const {
  (void)bucket;
  Result<store::ObjectInfo> head = store_.Head(config_.trigger_bucket, key);
  if (!head.ok()) {
    if (IsNoSuchKey(head.status())) return Status::Ok();  // stale: deleted since; its ObjectRemoved follows
    return ClassifyStoreError(head.status(), "reading the source");
  }
  if (head->size > config_.max_input_bytes) {
    return Status::TooLarge("source is " + std::to_string(head->size) + " bytes, over limits.max_input_bytes (" +
                            std::to_string(config_.max_input_bytes) + ")");
  }
  if (RenditionsUpToDate(store_, config_.output_bucket, config_.layout, config_.recipe, key, head->etag)) {
    return Status::Ok();
  }

  std::string etag;
  Result<std::string> bytes = ReadSource(key, &etag);
  if (!bytes.ok()) {
    if (IsNoSuchKey(bytes.status())) return Status::Ok();
    if (bytes.status().code() == StatusCode::kTooLarge) return bytes.status();
    return ClassifyStoreError(bytes.status(), "reading the source");
  }
  report.bytes_in += bytes->size();
  ++report.decodes;
  Result<image::ThumbnailResult> made = engine_.Thumbnail(image::AsBytes(*bytes), config_.recipe);
  if (!made.ok()) {
    // The engine's own classes: Unsupported/Corrupt/TooLarge are permanent, the rest is not.
    const Status& s = made.status();
    const bool permanent = s.code() == StatusCode::kUnsupported || s.code() == StatusCode::kCorrupt ||
                           s.code() == StatusCode::kTooLarge;
    return permanent ? s : Status::Unavailable(s.ToString()).WithContext("rendering");
  }
  report.decode_ms += made->decode_ms;
  report.memory_estimate = std::max(report.memory_estimate, made->memory_estimate);
  report.memory_wait_ms += made->memory_wait_ms;
  report.encode_ms += made->encode_ms;
  report.icc_profile_ignored |= made->icc_profile_ignored;
  for (const image::Rendition& r : made->renditions) {
    store::PutOptions options;
    options.content_type = std::string(ContentType(r.format));
    options.metadata = RenditionMetadata(key, etag, r.variant, r.width, r.height);
    const std::string out_key = RenditionKey(config_.layout, r.variant, key, r.format);
    Result<std::unique_ptr<store::ObjectWriter>> writer =
        store_.BeginPut(config_.output_bucket, out_key, std::move(options));
    if (!writer.ok()) return ClassifyStoreError(writer.status(), "writing " + out_key);
    Status s = (*writer)->Write(r.bytes);
    if (!s.ok()) return ClassifyStoreError(s, "writing " + out_key);
    Result<store::ObjectInfo> committed = (*writer)->Commit();
    if (!committed.ok()) return ClassifyStoreError(committed.status(), "writing " + out_key);
    ++report.renditions_written;
    report.bytes_out += r.bytes.size();
  }
  return AfterWriting(key, etag, report);
}

Status Job::AfterWriting(std::string_view key, std::string_view rendered_etag, JobReport& report) const {
  // The source may have changed while its renditions were made, and the job of that change
  // may have finished first: the ObjectRemoved job of a delete found no renditions to delete
  // yet, or the job of a newer upload wrote its renditions before these overwrote them. So
  // the source is looked at again now that the renditions exist. A change after this look
  // raises an event whose job runs after it, and finds these renditions.
  Result<store::ObjectInfo> now = store_.Head(config_.trigger_bucket, key);
  if (now.ok()) {
    if (now->etag == rendered_etag) return Status::Ok();
    return Status::Unavailable("the source changed while its renditions were made; they are made "
                               "again from its new bytes on the next receive");
  }
  if (!IsNoSuchKey(now.status())) return ClassifyStoreError(now.status(), "checking the source again");
  // Deleted meanwhile: remove what this job wrote, as its ObjectRemoved job would have.
  return Removed(config_.trigger_bucket, key, report);
}

Status Job::Removed(std::string_view bucket, std::string_view key, JobReport& report) const {
  (void)bucket;
  Result<store::ObjectInfo> head = store_.Head(config_.trigger_bucket, key);
  if (head.ok()) return Status::Ok();  // stale: the source was written again after the delete
  if (!IsNoSuchKey(head.status())) return ClassifyStoreError(head.status(), "checking the source");
  for (const std::string& rendition : PossibleRenditionKeys(config_.layout, config_.recipe, key)) {
    // Only this source's: another source with the same stem may own the name now. (A job of
    // that source writing between this check and the delete loses the rendition until the
    // next backfill: the store has no conditional delete to close that window.)
    Result<store::ObjectInfo> existing = store_.Head(config_.output_bucket, rendition);
    if (!existing.ok()) {
      if (IsNoSuchKey(existing.status())) continue;
      return ClassifyStoreError(existing.status(), "checking " + rendition);
    }
    if (!RenditionOf(*existing, key)) continue;
    bool existed = false;
    Status s = store_.Delete(config_.output_bucket, rendition, {}, &existed);
    if (!s.ok()) return ClassifyStoreError(s, "deleting " + rendition);
    if (existed) ++report.renditions_deleted;
  }
  return Status::Ok();
}

}  // namespace thumbpipe::pipeline
