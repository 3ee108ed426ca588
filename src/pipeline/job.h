// One queue message through the pipeline: parse the S3 event(s) it carries, make or delete
// the renditions, and say what should happen to the message. The Job never touches the
// queue itself; the Worker (worker.h) applies the verdict, so the verdict logic can be
// tested with no queue and no threads.
//
// Per record:
//   ObjectCreated  source under the trigger prefix: if every rendition exists with the
//                  source's current ETag, nothing is done (a redelivery costs two HEADs, not
//                  a decode); else read the source once, render every variant from one decode,
//                  write every rendition (metadata: source key, ETag, variant, size).
//   ObjectRemoved  delete the source's renditions, unless the source exists again (stale).
//   other buckets / prefixes, rendition keys, s3:TestEvent: nothing to do.
// A stale ObjectCreated (the source was deleted since) is done without error: its
// ObjectRemoved event follows. A source changed since the event is rendered as it is now.
//
// Errors: permanent ones (the image is unsupported, corrupt or over a limit, the event is
// malformed, the bucket is gone) -> dead-letter with the reason; anything else -> retry.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "image/engine.h"
#include "image/recipe.h"
#include "pipeline/rendition_names.h"
#include "queue/queue.h"
#include "store/object_store.h"

namespace thumbpipe::pipeline {

struct JobConfig {
  std::string trigger_bucket = "images";
  std::string output_bucket = "images";
  OutputLayout layout;  // trigger prefix -> output prefix
  image::Recipe recipe;
  uint64_t max_input_bytes = 50u << 20;  // checked against the source's size before reading it
};

enum class Verdict {
  kDone,        // renditions made or deleted: remove the message
  kSkipped,     // nothing to do (up to date, stale, not ours, test event): remove the message
  kRetry,       // transient failure: make it visible again later
  kDeadLetter,  // permanent failure: move to the DLQ with the reason
};

std::string_view VerdictName(Verdict verdict);

// What a job did, for the log line and the metrics.
struct JobReport {
  Verdict verdict = Verdict::kSkipped;
  Status error;                 // the failure behind kRetry / kDeadLetter
  std::vector<std::string> keys;  // source keys the message named
  int decodes = 0;
  int renditions_written = 0;
  int renditions_deleted = 0;
  uint64_t bytes_in = 0, bytes_out = 0;
  double decode_ms = 0, encode_ms = 0, total_ms = 0;
  uint64_t memory_estimate = 0;  // the largest decode's reserved peak (image/memory_estimate.h)
  double memory_wait_ms = 0;     // waiting for it in worker.memory_budget
  bool icc_profile_ignored = false;  // a source's ICC profile was damaged (converted as untagged)
};

class Job {
 public:
  Job(const JobConfig& config, store::ObjectStore& store, const image::Engine& engine)
      : config_(config), store_(store), engine_(engine) {}

  JobReport Run(const queue::Message& message) const;

 private:
  Status Created(std::string_view bucket, std::string_view key, JobReport& report) const;
  Status Removed(std::string_view bucket, std::string_view key, JobReport& report) const;
  Status AfterWriting(std::string_view key, std::string_view rendered_etag, JobReport& report) const;
  Result<std::string> ReadSource(std::string_view key, std::string* etag) const;

  const JobConfig& config_;
  store::ObjectStore& store_;
  const image::Engine& engine_;
};

}  // namespace thumbpipe::pipeline
