// The daemon's side of the Windows service (common/service_hooks.h), on Linux: a service
// manager's stop from another thread stops the daemon as SIGTERM does, Ready comes once the
// status socket answers, Stopping carries the shutdown timeout, and a daemon that cannot start
// says why to the hooks (the event log on Windows).
#include "common/service_hooks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

#include "agent/daemon/daemon.h"
#include "common/file_io.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::TempDir;
using aura::testing::UnixHttp;
using namespace std::chrono_literals;

class RecordingHooks : public ServiceHooks {
 public:
  void Ready() override { ready.set_value(); }
  void Stopping(std::chrono::seconds within) override { stopping_within = within.count(); }
  void Failed(const std::string& why) override { failed = why; }

  std::promise<void> ready;
  std::atomic<int64_t> stopping_within{-1};
  std::string failed;
};

class ServiceHooksDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testtools::GenerateAuraDb({dir_ / "live.db", 256u << 10, 1, true}).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", Config()).ok());
  }

  std::string Config() const {
    return "[agent]\nstate_dir = \"" + dir_ / "state" + "\"\nstatus_socket = \"" +
           dir_ / "agent.sock" +
           "\"\nlog_file = \"-\"\nlog_level = \"warn\"\nshutdown_timeout = \"17s\"\n\n"
           "[[target]]\nname = \"local\"\nurl = \"" +
           dir_ / "repo" +
           "\"\nencryption = \"none\"\n\n"
           "[[database]]\nname = \"aura\"\npath = \"" +
           dir_ / "live.db" + "\"\ntargets = [\"local\"]\n";
  }

  TempDir dir_;
};

TEST_F(ServiceHooksDaemon, ServiceStopFromAnotherThreadStopsTheDaemonCleanly) {
  RecordingHooks hooks;
  auto ready = hooks.ready.get_future();
  auto done = std::async(std::launch::async, [&] {
    return agent::RunDaemon(dir_ / "agent.toml", SystemClock::Instance(), &hooks);
  });
  ASSERT_EQ(ready.wait_for(60s), std::future_status::ready) << "Ready never came";
  EXPECT_EQ(UnixHttp(dir_ / "agent.sock", "GET", "/v1/status").status, 200)
      << "Ready means the status socket answers";
  EXPECT_EQ(hooks.stopping_within, -1);
  // The SCM's control handler runs on its own thread.
  std::thread([&] { hooks.RequestStop(); }).join();
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready) << "the stop did not stop the daemon";
  EXPECT_EQ(done.get(), 0) << "a service stop is a clean stop";
  EXPECT_EQ(hooks.stopping_within, 17) << "STOP_PENDING's wait hint comes from shutdown_timeout";
  EXPECT_FALSE(PathExists(dir_ / "agent.sock")) << "the socket is removed on the way out";
  EXPECT_TRUE(hooks.failed.empty());
}

TEST_F(ServiceHooksDaemon, StopRequestedBeforeTheLoopRunsStopsItAsSoonAsItDoes) {
  RecordingHooks hooks;
  hooks.RequestStop();  // the SCM sent STOP while the service was still starting
  EXPECT_TRUE(hooks.stop_requested());
  auto done = std::async(std::launch::async, [&] {
    return agent::RunDaemon(dir_ / "agent.toml", SystemClock::Instance(), &hooks);
  });
  ASSERT_EQ(done.wait_for(60s), std::future_status::ready);
  EXPECT_EQ(done.get(), 0);
  EXPECT_EQ(hooks.stopping_within, 17);
}

TEST_F(ServiceHooksDaemon, DaemonThatCannotStartTellsTheHooksWhy) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", "[agent]\nworkers = \"many\"\n").ok());
  RecordingHooks hooks;
  int rc = agent::RunDaemon(dir_ / "agent.toml", SystemClock::Instance(), &hooks);
  EXPECT_EQ(rc, 3) << "a config error";
  EXPECT_NE(hooks.failed.find("workers"), std::string::npos) << hooks.failed;
  EXPECT_NE(hooks.failed.find("nothing was started"), std::string::npos) << hooks.failed;
  EXPECT_EQ(hooks.ready.get_future().wait_for(0s), std::future_status::timeout);
}

TEST(ServiceHooks, StopperInstalledLaterRunsAtOnceAndRemovedStopperIsNotCalled) {
  ServiceHooks hooks;
  int calls = 0;
  hooks.InstallStopper([&] { ++calls; });
  hooks.RemoveStopper();
  hooks.RequestStop();
  EXPECT_EQ(calls, 0);
  hooks.InstallStopper([&] { ++calls; });
  EXPECT_EQ(calls, 1) << "a stop requested earlier is not lost";
}

}  // namespace
}  // namespace aura
