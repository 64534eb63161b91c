#include <gtest/gtest.h>

#include "migrations/sql_text.h"

namespace aura::migrations {
namespace {

TEST(SqlName, ComparesAsciiCaseInsensitively) {
  EXPECT_TRUE(SameName("ProjectStates", "projectstates"));
  EXPECT_FALSE(SameName("ProjectStates", "ProjectState"));
  EXPECT_FALSE(SameName("a", "b"));
}

}  // namespace
}  // namespace aura::migrations
