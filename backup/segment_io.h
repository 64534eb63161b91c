// Reading and writing WAL segment objects in a repository (the sealed form of wal_segment.h),
// shared by the replicator, the compactor and point-in-time restore.
//
// Thread-safety: free functions; safe to call concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <utility>

#include "backup/repository.h"
#include "backup/wal_segment.h"
#include "common/clock.h"

namespace aura::backup {

// Streams the plaintext of segment `s` to `sink`, fully verified.
Status ReadSegment(Repository& repo, const SegmentRef& s,
                   const std::function<Status(std::span<const uint8_t>)>& sink);

// The segment's header (reads and verifies the whole object; segments are small).
Result<SegmentHeader> ReadSegmentHeader(Repository& repo, const SegmentRef& s);

// First and last observed commit times from the object's public metadata (no key needed).
Result<std::pair<int64_t, int64_t>> SegmentCommitTimes(Repository& repo, const SegmentRef& s);

// Writes segment object `ref` whose plaintext starts with `header` and continues with what
// `body` produces (called with a writer function). Succeeds if the object already exists.
Status WriteSegmentObject(
    Repository& repo, const SegmentRef& ref, const SegmentHeader& header, TimePoint now,
    const std::function<Status(const std::function<Status(std::span<const uint8_t>)>&)>& body);

}  // namespace aura::backup
