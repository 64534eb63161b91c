// RetireWorkspace: where a key retirement (key_retirement.h) works on this host, one folder per
// repository:
//
//   <base>/aura-retire-<repository id>/     mode 0700, owned by the user running the retirement
//     lock                                  an exclusive platform::FileLock, held for the whole run
//     objects/                              the scratch folder (RetireOptions::scratch_dir)
//
// <base> is the caller's choice ($TMPDIR or /tmp for the CLI). The repository id comes from
// aura-repository.json, so every spelling of one repository's URL (a relative path, a symlink,
// --from or --config) meets the same lock. It is read from the target, so a hostile one cannot
// name a path: an id that is not plain lowercase hex is replaced by a hash of it.
//
// The lock keeps two retirements of one repository on this host apart (the second is kBusy,
// naming the holder). It cannot see another host: a lock object in the repository would not be
// atomic on S3, so two hosts must not retire the same repository at once (docs/SECURITY.md).
//
// Opening empties objects/ of what a killed run left there (at most one object, sealed with the
// new key, which the repository may already hold too). Destroying the workspace removes
// objects/, the lock file and the folder.
//
// Thread-safety: one thread; one workspace per run.
#pragma once

#include <string>

#include "common/platform.h"
#include "common/status.h"

namespace aura::backup {

class RetireWorkspace {
 public:
  // Creates or reuses the repository's folder under `base` and takes its lock; `note` (who and
  // what) is written into the lock file for a refused run to quote. kBusy when another run holds
  // it; kPermissionDenied when the folder is not this user's (or is a symlink).
  static Result<RetireWorkspace> Open(const std::string& base, const std::string& repository_id,
                                      const std::string& note);

  RetireWorkspace(RetireWorkspace&& other) noexcept = default;
  RetireWorkspace& operator=(RetireWorkspace&&) = delete;
  ~RetireWorkspace();

  const std::string& folder() const { return folder_; }
  std::string scratch_dir() const { return folder_ + "/objects"; }
  // Files a killed earlier run had left in objects/, removed by Open.
  int stale_files_removed() const { return stale_removed_; }

 private:
  RetireWorkspace(std::string folder, platform::FileLock lock)
      : folder_(std::move(folder)), lock_(std::move(lock)) {}

  std::string folder_;
  platform::FileLock lock_;
  int stale_removed_ = 0;
};

// The folder name's part for `repository_id`: the id itself when it is 1 to 64 lowercase hex
// digits (as aura-agent writes it), otherwise "h" and 16 hex digits of its SHA-256.
std::string RetireFolderId(const std::string& repository_id);

}  // namespace aura::backup
