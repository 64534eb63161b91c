// Storage: the seam between the agent and wherever backups live (a local folder, S3, or a
// fault-injecting wrapper in tests). One contract test suite (tests/backup/storage_contract.h)
// runs against every implementation.
//
// Model: a flat namespace of immutable objects named by '/'-separated keys relative to the
// storage root ("aura/snapshots/20261124T201405.123Z-1a2b3c4d.manifest").
//
// Write semantics (the contract every implementation keeps):
//   - Atomic: an object is visible under its name only after ObjectWriter::Commit() returns OK,
//     and then it is complete. A writer destroyed or aborted without Commit leaves nothing
//     visible (local: the temp file is deleted; S3: the multipart upload is aborted).
//   - Durable: when Commit returns OK the object survives a crash or power loss of this host
//     (local: fsync file, rename, fsync directory; S3: the server acknowledged the PUT/complete).
//   - No-overwrite when asked: with WriteOptions::no_overwrite, Commit fails with kAlreadyExists
//     if the name exists, and the existing object is unchanged. Without it, Commit replaces.
//   - Idempotent: names are deterministic and content immutable, so repeating a write after an
//     error in doubt is safe.
//
// Error contract: kNotFound for a missing object (Open, Stat); Delete of a missing object is OK;
// kUnavailable for a transient outage worth retrying; kPermissionDenied for refused access;
// kIOError otherwise (a disk-full message says so). Names are validated by ValidateObjectName;
// an invalid name is kInvalidArgument.
//
// Thread-safety: a Storage may be used from several threads at once. Each ObjectWriter and
// ObjectReader is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace aura::backup {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
  TimePoint modified{};
};

struct WriteOptions {
  // Fail Commit with kAlreadyExists instead of replacing an existing object.
  bool no_overwrite = false;
  // Expected total size if known (0 = unknown); lets S3 pick a single PUT or multipart.
  uint64_t size_hint = 0;
};

class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;  // Aborts unless committed.
  virtual Status Append(std::span<const uint8_t> data) = 0;
  // Makes the object visible, complete and durable. The writer is finished afterwards.
  virtual Status Commit() = 0;
  // Discards everything written. Idempotent; also done by the destructor.
  virtual void Abort() = 0;
  // Bytes appended so far.
  virtual uint64_t bytes_written() const = 0;
};

class ObjectReader {
 public:
  virtual ~ObjectReader() = default;
  // Reads up to buf.size() bytes; returns 0 at the end of the requested range.
  virtual Result<size_t> Read(std::span<uint8_t> buf) = 0;
};

inline constexpr uint64_t kToEnd = std::numeric_limits<uint64_t>::max();

class Storage {
 public:
  virtual ~Storage() = default;

  // Where this storage points, for messages: "/var/backups/aura" or "s3://bucket/prefix".
  // Never contains secrets.
  virtual std::string Describe() const = 0;

  virtual Result<std::unique_ptr<ObjectWriter>> Create(const std::string& name,
                                                       const WriteOptions& options) = 0;
  // Opens bytes [offset, offset+length) of an object (clamped to its size). kNotFound if absent.
  virtual Result<std::unique_ptr<ObjectReader>> Open(const std::string& name, uint64_t offset = 0,
                                                     uint64_t length = kToEnd) = 0;
  virtual Result<ObjectInfo> Stat(const std::string& name) = 0;
  // Every committed object whose name starts with `prefix`, sorted by name.
  virtual Result<std::vector<ObjectInfo>> List(const std::string& prefix) = 0;
  // Removes an object; OK if it does not exist.
  virtual Status Delete(const std::string& name) = 0;

  // Optional capabilities: the defaults keep the contract on any backend; a backend overrides
  // one when it can do the same job better. Wrappers (FaultStorage) forward them.

  // Removes every object in `names`; missing ones are OK. Every name is validated before
  // anything is deleted (kInvalidArgument, nothing deleted). A backend with batch deletes uses
  // them (S3: DeleteObjects, 1000 names a request), a batch finishing before the next starts, so
  // a caller that needs an order (manifests before data) calls DeleteMany once per step. On an
  // error some objects may already be gone; repeating the call is safe. Default: Delete, one by
  // one, in order.
  virtual Status DeleteMany(const std::vector<std::string>& names);

  // Removes what writes that never committed left behind because their process died (a local
  // temp file, an S3 multipart upload, both invisible to List), if they started more than
  // `older_than` ago and lie under the folder `under` ("" = anywhere). Never touches a committed
  // object or a younger write, which may still be in flight. Returns how many it removed.
  // Idempotent. Default: a backend whose writes leave nothing behind has nothing to remove (0).
  virtual Result<int> RemoveAbandonedWrites(std::chrono::seconds older_than,
                                            const std::string& under = "");

  // Makes durable every object a listing of `prefix` shows now, for a writer about to build on
  // what an earlier process left (the replicator resuming after the newest segment or generation
  // snapshot): a process killed between renaming an object into place and fsyncing its folder
  // left it visible but not durable, and a power cut would take it from under what was built on
  // it. Cheap when repeated. Default: nothing to do (an object store's write is durable once it
  // returns).
  virtual Status MakeDurable(const std::string& prefix);
};

// kInvalidArgument unless `name` is a valid object name: non-empty, at most 1024 bytes, no
// leading or trailing '/', no empty, "." or ".." components, no component starting with '.',
// no control characters or backslashes.
Status ValidateObjectName(std::string_view name);

// Whether a name a listing found (a file under a local target, a key in a bucket) may enter the
// agent as an object name: ValidateObjectName. Every backend's List applies it, so no caller
// sees a name like "../../etc/x", "/abs", one holding an escape sequence or NUL, or one over 1024
// bytes: nothing can be read, written or deleted under such a name anyway, and a hostile bucket
// must not steer a path. A name left out is warned about once per process (the log escapes it);
// `where` is the storage's Describe().
bool KeepListedName(const std::string& name, const std::string& where);

// Warns, once per process and `name`, that the object `name` in `where` is ignored and why.
void WarnIgnoredObject(const std::string& name, const std::string& where, const std::string& why);

// Writes a whole object from memory.
Status PutObject(Storage& storage, const std::string& name, std::span<const uint8_t> data,
                 const WriteOptions& options = {});
// Reads a whole object into memory; kIOError if it is larger than max_bytes.
Result<std::string> GetObject(Storage& storage, const std::string& name,
                              uint64_t max_bytes = 64 << 20);

}  // namespace aura::backup
