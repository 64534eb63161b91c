#include "backup/storage/storage.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

namespace aura::backup {

Status ValidateObjectName(std::string_view name) {
  auto bad = [&](const char* why) {
    return InvalidArgument("invalid object name '" + std::string(name) + "': " + why);
  };
  if (name.empty()) return bad("empty");
  if (name.size() > 1024) return bad("longer than 1024 bytes");
  if (name.front() == '/' || name.back() == '/') return bad("leading or trailing '/'");
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view part = name.substr(start, end - start);
    if (part.empty()) return bad("empty path component");
    if (part[0] == '.') return bad("a component starts with '.'");
    start = end + 1;
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '\\') return bad("control character or backslash");
  }
  return Status::Ok();
}

void WarnIgnoredObject(const std::string& name, const std::string& where, const std::string& why) {
  static std::mutex mu;
  static std::set<std::string> warned;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (warned.size() > 10000 || !warned.insert(where + '\n' + name).second) return;
  }
  spdlog::warn("ignoring the object '{}' in {}: {} (not written by aura-agent; remove it)", name,
               where, why);
}

bool KeepListedName(const std::string& name, const std::string& where) {
  Status s = ValidateObjectName(name);
  if (s.ok()) return true;
  const std::string& m = s.message();
  const auto colon = m.rfind("': ");
  WarnIgnoredObject(
      name, where,
      "not a valid object name (" + (colon == std::string::npos ? m : m.substr(colon + 3)) + ")");
  return false;
}

Status Storage::DeleteMany(const std::vector<std::string>& names) {
  for (const std::string& n : names) AURA_RETURN_IF_ERROR(ValidateObjectName(n));
  for (const std::string& n : names) AURA_RETURN_IF_ERROR(Delete(n));
  return Status::Ok();
}

Result<int> Storage::RemoveAbandonedWrites(std::chrono::seconds, const std::string&) { return 0; }

Status Storage::MakeDurable(const std::string&) { return Status::Ok(); }

Status PutObject(Storage& storage, const std::string& name, std::span<const uint8_t> data,
                 const WriteOptions& options) {
  WriteOptions o = options;
  o.size_hint = data.size();
  AURA_ASSIGN_OR_RETURN(auto writer, storage.Create(name, o));
  AURA_RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

Result<std::string> GetObject(Storage& storage, const std::string& name, uint64_t max_bytes) {
  AURA_ASSIGN_OR_RETURN(auto reader, storage.Open(name));
  std::string out;
  uint8_t buf[64 * 1024];
  for (;;) {
    AURA_ASSIGN_OR_RETURN(size_t n, reader->Read(buf));
    if (n == 0) break;
    if (out.size() + n > max_bytes) {
      return IOError("object " + name + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(reinterpret_cast<const char*>(buf), n);
  }
  return out;
}

}  // namespace aura::backup
