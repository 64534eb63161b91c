#include "common/file_io_seam.h"

namespace aura {

std::string_view FileOpName(FileOp op) {
  switch (op) {
    case FileOp::kCreate:
      return "create";
    case FileOp::kWrite:
      return "write";
    case FileOp::kSyncFile:
      return "fsync";
    case FileOp::kSyncDirectory:
      return "fsync directory";
    case FileOp::kRename:
      return "rename";
    case FileOp::kRemove:
      return "remove";
    case FileOp::kMakeDirectory:
      return "mkdir";
  }
  return "file operation";
}

}  // namespace aura
