#include "backup/segment_cache.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace aura::backup {

namespace {

std::string LevelDir(const std::string& dir, uint64_t generation, int level) {
  return dir + "/" + GenerationName(generation) + "/" + std::to_string(level);
}

}  // namespace

std::optional<DiskSpace> StatDiskSpace(const std::string& dir) {
  // The cache folder is made by the first copy: until then, the folder it will be made in.
  for (std::string d = dir; !d.empty(); d = DirName(d)) {
    struct statvfs v {};
    if (::statvfs(d.c_str(), &v) == 0) {
      return DiskSpace{uint64_t{v.f_bavail} * v.f_frsize, uint64_t{v.f_blocks} * v.f_frsize};
    }
    if (errno != ENOENT || d == "/" || d == ".") break;
  }
  return std::nullopt;
}

uint64_t CacheReserve(uint64_t total) {
  return std::clamp<uint64_t>(total / 10, uint64_t{64} << 20, uint64_t{1} << 30);
}

bool SegmentCache::AboveReserve() const {
  if (!probe_) return true;
  const std::optional<DiskSpace> d = probe_(dir_);
  return d.has_value() && d->free > CacheReserve(d->total);
}

std::string SegmentCache::PathOf(const SegmentRef& ref) const {
  return LevelDir(dir_, ref.generation, ref.level) + "/" +
         SegmentFileName(ref.first_txid, ref.last_txid);
}

std::optional<std::string> SegmentCache::Find(const SegmentRef& ref) const {
  if (!enabled()) return std::nullopt;
  std::string p = PathOf(ref);
  if (!PathExists(p)) return std::nullopt;
  return p;
}

bool SegmentCache::Adopt(const std::string& file, const SegmentRef& ref) {
  if (enabled() && AboveReserve() && CreatePrivateDirectories(DirName(PathOf(ref))).ok() &&
      RenameReplace(file, PathOf(ref)).ok()) {
    return true;
  }
  (void)RemoveFile(file);  // another filesystem, or no room: compaction reads the target instead
  return false;
}

Result<TempFile> SegmentCache::Begin(const SegmentRef& ref) {
  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(DirName(PathOf(ref))));
  return TempFile::Create(PathOf(ref), 0600);
}

bool SegmentCache::Keep(TempFile temp) {
  if (AboveReserve() && RenameReplace(temp.temp_path(), temp.final_path()).ok()) return true;
  temp.Abandon();
  return false;
}

void SegmentCache::Remove(const SegmentRef& ref) {
  if (enabled()) (void)RemoveFile(PathOf(ref));
}

std::vector<SegmentRef> SegmentCache::Scan(const std::string& database) const {
  std::vector<SegmentRef> out;
  if (!enabled()) return out;
  for (const std::string& g : ListDirectory(dir_)) {
    uint64_t gen = 0;
    if (!ParseGenerationName(g, &gen)) continue;
    for (const std::string& l : ListDirectory(dir_ + "/" + g)) {
      if (l.size() != 1 || l[0] < '0' || l[0] > '9') continue;
      const std::string ldir = dir_ + "/" + g + "/" + l;
      for (const std::string& f : ListDirectory(ldir)) {
        SegmentRef r{database, gen, l[0] - '0', 0, 0, 0};
        if (f[0] == '.') {
          (void)RemoveFile(ldir + "/" + f);  // a merge that stopped half-way
          continue;
        }
        struct stat st;
        if (!ParseSegmentFileName(f, &r.first_txid, &r.last_txid) ||
            ::stat((ldir + "/" + f).c_str(), &st) != 0) {
          continue;
        }
        r.size = static_cast<uint64_t>(st.st_size);
        out.push_back(r);
      }
    }
  }
  return out;
}

Status ReadSegmentFile(const std::string& path,
                       const std::function<Status(std::span<const uint8_t>)>& sink, uint64_t from) {
  AURA_ASSIGN_OR_RETURN(File in, File::OpenForRead(path));
  std::vector<uint8_t> buf(1 << 20);
  for (uint64_t offset = from;;) {
    AURA_ASSIGN_OR_RETURN(size_t n, in.ReadAt(offset, buf));
    if (n == 0) return Status::Ok();
    AURA_RETURN_IF_ERROR(sink(std::span<const uint8_t>(buf.data(), n)));
    offset += n;
  }
}

}  // namespace aura::backup
