// LocalStorage: a Storage in a local folder (or a mounted network share).
//
// Object "a/b/c" is the file "<root>/a/b/c". Writes go to "<dir>/.c.tmp-XXXXXX" beside the final
// name, are fsynced, renamed (renameat2 RENAME_NOREPLACE for no-overwrite), and the directory is
// fsynced, so a crash at any point leaves either the complete object or nothing under the final
// name. Temp files start with '.', which no valid object name does, so List never shows them;
// stale ones left by a crash are removed by RemoveAbandonedWrites.
//
// Modes: objects are 0640 and the folders this storage creates (the root included) 0750, exactly,
// whatever the umask: the agent's user writes, its group (`aura-agent` for the Debian package,
// INSTALL.md) may read the backups, others nothing. Folders that exist are left as they are.
//
// Thread-safety: safe for concurrent use; nothing is cached.
#pragma once

#include <string>

#include "backup/storage/storage.h"

namespace aura::backup {

class LocalStorage final : public Storage {
 public:
  static constexpr int kObjectMode = 0640;
  static constexpr int kFolderMode = 0750;

  // `root` need not exist yet; it is created on the first write.
  explicit LocalStorage(std::string root);

  std::string Describe() const override { return root_; }
  Result<std::unique_ptr<ObjectWriter>> Create(const std::string& name,
                                               const WriteOptions& options) override;
  Result<std::unique_ptr<ObjectReader>> Open(const std::string& name, uint64_t offset,
                                             uint64_t length) override;
  Result<ObjectInfo> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;

  // Deletes the temp files of crashed writers (".<name>.tmp-XXXXXX") whose last change is at
  // least `older_than` old, under the root or only under the folder `under`.
  Result<int> RemoveAbandonedWrites(std::chrono::seconds older_than,
                                    const std::string& under = "") override;

  const std::string& root() const { return root_; }

 private:
  std::string PathOf(const std::string& name) const { return root_ + "/" + name; }
  // mkdir -p for the object's directory, fsyncing each parent whose entries changed.
  Status EnsureParentDirs(const std::string& name);

  std::string root_;
};

}  // namespace aura::backup
