// The Storage contract suite: every Storage implementation instantiates it with a factory.
//
//   INSTANTIATE_TEST_SUITE_P(Local, StorageContract,
//       ::testing::Values(StorageFactory{"local", [](const std::string& scratch) {...}}),
//       StorageFactoryName);
//
// The tests themselves live in storage_contract_test.cc; instantiations may live in any file
// linked into the same test binary (the S3 suite adds its own against a real S3 server).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>

#include "backup/storage/storage.h"
#include "tests/support/test_env.h"

namespace aura::backup {

struct StorageFactory {
  std::string name;
  // Makes a storage at a location derived from `scratch` (an empty local directory it may use):
  // empty the first time, and the same location again when called again with the same scratch
  // (as another process opening the same target would).
  std::function<std::shared_ptr<Storage>(const std::string& scratch)> make;
  // Why non-ASCII names cannot be exercised against this backend (empty: they can).
  std::string no_unicode_names;
  // Why this backend cannot tell when an abandoned write started (empty: it can), so "younger
  // writes are left alone" cannot be checked against it.
  std::string no_write_start_times;
};

inline std::string StorageFactoryName(const ::testing::TestParamInfo<StorageFactory>& info) {
  return info.param.name;
}

class StorageContract : public ::testing::TestWithParam<StorageFactory> {
 protected:
  void SetUp() override {
    storage_ = GetParam().make(dir_.path());
    ASSERT_NE(storage_, nullptr) << GetParam().name << ": the storage could not be set up";
  }
  aura::testing::TempDir dir_;
  std::shared_ptr<Storage> storage_;
};

}  // namespace aura::backup

namespace aura::backup {
inline void PrintTo(const StorageFactory& f, std::ostream* os) { *os << f.name; }
}  // namespace aura::backup
