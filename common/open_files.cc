#include "common/open_files.h"

namespace aura {

#if !defined(__linux__) && !defined(_WIN32)
// macOS and other Unixes: no lookup (libproc's per-process descriptor walk needs the same
// privileges lsof has); the message sends the operator to lsof instead.
std::vector<FileHolder> ProcessesHolding(const std::string& path) {
  (void)path;
  return {};
}

const char* HolderLookupFallback() { return "run lsof "; }
#endif

Status WithHolders(const Status& status, const std::string& path) {
  if (status.code() != Code::kBusy) return status;
  std::vector<FileHolder> holders = ProcessesHolding(path);
  if (holders.empty()) {
    return Status(status.code(), status.message() + "; no process holding " + path +
                                     " could be inspected from here: " + HolderLookupFallback() +
                                     path);
  }
  std::string who;
  for (const FileHolder& h : holders) {
    who += (who.empty() ? "" : ", ") + std::string("pid ") + std::to_string(h.pid) + " (" +
           h.command + ")";
  }
  return Status(status.code(), status.message() + "; held open by " + who);
}

}  // namespace aura
