// Integers read from JSON that someone else may have written (manifests, the repository marker,
// segment metadata: whatever holds the bucket can change them). nlohmann's get<unsigned>()
// converts a float outside the type's range with undefined behaviour (UBSan found it by fuzzing
// manifests: "generation": 3.4e21) and wraps a negative or too large integer silently. These
// throw JsonNumberError instead: a nlohmann::json::exception, so the parsers' existing guards
// turn it into kCorruption like any other malformed field.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>

namespace aura {

class JsonNumberError : public nlohmann::json::exception {
 public:
  explicit JsonNumberError(const std::string& what) : nlohmann::json::exception(0, what.c_str()) {}
};

// `j` as a T: it must be a JSON integer within T's range. `name` names the field in the error.
template <typename T>
T JsonInt(const nlohmann::json& j, const char* name) {
  static_assert(std::is_integral_v<T>);
  const auto fail = [name]() -> T {
    throw JsonNumberError(std::string("field '") + name + "' is not an integer in range");
  };
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    return v <= static_cast<uint64_t>(std::numeric_limits<T>::max()) ? static_cast<T>(v) : fail();
  }
  if (j.is_number_integer()) {
    const int64_t v = j.get<int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
      return v >= 0 && static_cast<uint64_t>(v) <= std::numeric_limits<T>::max() ? static_cast<T>(v)
                                                                                 : fail();
    } else {
      return v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max()
                 ? static_cast<T>(v)
                 : fail();
    }
  }
  return fail();
}

// obj[key] as a T, `fallback` when obj has no such key.
template <typename T>
T JsonInt(const nlohmann::json& obj, const char* key, T fallback) {
  auto it = obj.find(key);
  return it == obj.end() ? fallback : JsonInt<T>(*it, key);
}

}  // namespace aura
