// ProcessesHolding on Linux: every /proc/<pid>/fd/* link that resolves to the file.
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/open_files.h"

namespace aura {

namespace {

namespace fs = std::filesystem;

std::string Comm(const fs::path& proc_pid) {
  std::ifstream in(proc_pid / "comm");
  std::string c;
  std::getline(in, c);
  return c;
}

bool AllDigits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Whether one of `pid`'s descriptors resolves to one of `targets`.
bool HoldsAny(const fs::path& proc_pid, const std::set<std::string>& targets) {
  std::error_code ec;
  for (const auto& fd : fs::directory_iterator(proc_pid / "fd", ec)) {
    std::error_code lec;
    fs::path target = fs::read_symlink(fd.path(), lec);
    if (!lec && targets.count(target.string()) != 0) return true;
  }
  return false;
}

}  // namespace

std::vector<FileHolder> ProcessesHolding(const std::string& path) {
  std::vector<FileHolder> out;
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  if (ec) return out;
  const std::string base = canonical.string();
  const std::set<std::string> targets = {base, base + "-wal", base + "-shm", base + "-journal"};
  const std::string self = std::to_string(::getpid());
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (!AllDigits(pid) || pid == self) continue;
    if (HoldsAny(e.path(), targets)) out.push_back({std::stoi(pid), Comm(e.path())});
  }
  return out;
}

const char* HolderLookupFallback() { return "run lsof "; }

}  // namespace aura
