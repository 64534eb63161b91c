#include "agent/config.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::agent {
namespace {

const char kGood[] = R"(
[agent]
state_dir = "/var/lib/aura-agent"
log_level = "info"

[keys]
key_file = "/etc/aura-agent/backup.key"

[[target]]
name = "local"
url = "/var/backups/aura"

[[target]]
name = "plain"
url = "/mnt/encrypted-disk/aura"
encryption = "none"

[[database]]
name = "aura"
path = "/var/lib/aura/aura.db"
targets = ["local"]
continuous = true
hourly = { keep = 24, minute = 15 }
daily = { keep = 7, at = "02:30" }
weekly = { keep = 4, day = "sun", at = "03:00" }
migrations = { dir = "/opt/aura/migrations", auto_apply = false }
)";

// 1-based line of the first occurrence of `needle` in `text`.
int LineOf(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

// A reload restarts a database exactly when something its worker uses changed.
TEST(Config, FingerprintChangesOnlyWithWhatTheDatabaseUses) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string text = kGood;
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    auto cfg = ParseConfig(text +
                               "\n[[database]]\nname = \"other\"\npath = \"/o.db\"\n"
                               "targets = [\"plain\"]\n",
                           "agent.toml");
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    return cfg->Fingerprint(*cfg->FindDatabase("aura"));
  };
  const std::string base = with("", "");
  EXPECT_EQ(base, with("log_level = \"info\"", "log_level = \"debug\""));
  EXPECT_EQ(base, with("url = \"/mnt/encrypted-disk/aura\"", "url = \"/elsewhere\""))
      << "a target this database does not use";
  EXPECT_NE(base, with("url = \"/var/backups/aura\"", "url = \"/var/backups/new\""));
  EXPECT_NE(base, with("minute = 15", "minute = 20"));
  EXPECT_NE(base, with("key_file = \"/etc/aura-agent/backup.key\"", "key_file = \"/k2\""));
  EXPECT_NE(base, with("log_level = \"info\"", "log_level = \"info\"\npoll_ms = 250"));
  EXPECT_NE(base, with("log_level = \"info\"", "log_level = \"info\"\njitter = \"1m\""));
}

TEST(Config, TheDesignSketchParses) {
  auto cfg = ParseConfig(kGood, "agent.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->databases.size(), 1u);
  const DatabaseConfig& d = cfg->databases[0];
  EXPECT_EQ(d.path, "/var/lib/aura/aura.db");
  EXPECT_TRUE(d.continuous);
  EXPECT_EQ(d.hourly.keep, 24);
  EXPECT_EQ(d.hourly.minute, 15);
  EXPECT_EQ(d.daily.at, "02:30");
  EXPECT_EQ(d.weekly.day, "sun");
  EXPECT_TRUE(d.migrations.enabled);
  EXPECT_EQ(cfg->FindTarget("plain")->encryption, "none");
}

TEST(Config, UnknownKeyIsAnErrorWithFileAndLine) {
  std::string text = std::string(kGood) + "hourley = 3\n";
  auto cfg = ParseConfig(text, "agent.toml");
  ASSERT_EQ(cfg.status().code(), Code::kConfig);
  std::string want =
      "agent.toml:" + std::to_string(LineOf(text, "hourley")) + ": unknown key 'hourley'";
  EXPECT_NE(cfg.status().message().find(want), std::string::npos) << cfg.status().message();
}

TEST(Config, UnknownKeyInsideAPolicyIsAnError) {
  std::string text = kGood;
  text.replace(text.find("keep = 24"), 9, "kepe = 24");
  auto cfg = ParseConfig(text, "a.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("unknown key 'kepe'"), std::string::npos);
}

TEST(Config, WrongTypeIsAnErrorWithTheLine) {
  std::string text = kGood;
  text.replace(text.find("continuous = true"), 17, "continuous = \"yes\"");
  auto cfg = ParseConfig(text, "a.toml");
  ASSERT_FALSE(cfg.ok());
  std::string want = "a.toml:" + std::to_string(LineOf(text, "continuous =")) + ": 'continuous'";
  EXPECT_NE(cfg.status().message().find(want), std::string::npos) << cfg.status().message();
}

TEST(Config, InlineSecretIsRefusedWithAHint) {
  std::string text = kGood;
  text.replace(text.find("key_file ="), 10, "passphrase = \"hunter2\"\nkey_file =");
  auto cfg = ParseConfig(text, "a.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("secrets are never inline"), std::string::npos);
}

TEST(Config, EncryptedTargetWithoutKeyIsAnError) {
  std::string text = kGood;
  const std::string line = "key_file = \"/etc/aura-agent/backup.key\"";
  text.replace(text.find(line), line.size(), "");
  auto cfg = ParseConfig(text, "a.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("encryption = \"none\""), std::string::npos);
}

TEST(Config, UnknownTargetAndBadTimeAreReported) {
  std::string text = kGood;
  text.replace(text.find("targets = [\"local\"]"), 19, "targets = [\"nas\"]");
  text.replace(text.find("\"02:30\""), 7, "\"25:00\"");
  auto cfg = ParseConfig(text, "a.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.status().message().find("unknown target 'nas'"), std::string::npos);
  EXPECT_NE(cfg.status().message().find("HH:MM"), std::string::npos);
}

TEST(Config, GenerationIntervalDefaultsToADayAndRefusesTinyValues) {
  auto cfg = ParseConfig(kGood, "a.toml");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg->databases[0].generation_interval_s, 86400);
  auto with = [](const std::string& value) {
    std::string text = kGood;
    text.replace(text.find("continuous = true"), 17,
                 "continuous = true\ngeneration_interval = \"" + value + "\"");
    return ParseConfig(text, "a.toml");
  };
  EXPECT_EQ(with("0s")->databases[0].generation_interval_s, 0);
  EXPECT_EQ(with("6h")->databases[0].generation_interval_s, 6 * 3600);
  auto tiny = with("5m");
  ASSERT_FALSE(tiny.ok());
  EXPECT_NE(tiny.status().message().find("at least 10m"), std::string::npos)
      << tiny.status().message();
}

// The default cadence without any check or verify table: an hourly quick_check, a daily full
// check, rolling verification over 7 days; each can be changed or turned off, bad values refused.
TEST(Config, ChecksAndRollingVerificationAreOnByDefault) {
  auto cfg = ParseConfig(kGood, "a.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  const DatabaseConfig& d = cfg->databases[0];
  EXPECT_TRUE(d.check.enabled);
  EXPECT_EQ(d.check.level, "full");
  EXPECT_EQ(d.check.quick, "hourly");
  EXPECT_EQ(d.check.at, "03:30");
  EXPECT_TRUE(d.verify.enabled);
  EXPECT_EQ(d.verify.every_s, 7 * 86400);
  auto with = [](const std::string& lines) {
    std::string text = kGood;
    text.replace(text.find("continuous = true"), 17, "continuous = true\n" + lines);
    return ParseConfig(text, "a.toml");
  };
  auto changed = with("check = { quick = \"off\" }\nverify = { every = \"2d\" }");
  ASSERT_TRUE(changed.ok()) << changed.status().ToString();
  EXPECT_EQ(changed->databases[0].check.quick, "off");
  EXPECT_EQ(changed->databases[0].verify.every_s, 2 * 86400);
  auto off = with("check = { enabled = false }\nverify = { enabled = false }");
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_FALSE(off->databases[0].check.enabled);
  EXPECT_FALSE(off->databases[0].verify.enabled);
  auto bad = with("check = { quick = \"often\" }");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'quick'"), std::string::npos) << bad.status().message();
  EXPECT_FALSE(with("verify = { every = \"10m\" }").ok()) << "a cycle of at least an hour";
}

TEST(Config, StatusTcpMustBeLoopbackWithAPortAndAToken) {
  auto with = [](const std::string& lines) {
    std::string text = kGood;
    text.replace(text.find("log_level = \"info\""), 18, "log_level = \"info\"\n" + lines);
    return ParseConfig(text, "a.toml");
  };
  auto ok = with("status_tcp = \"[::1]:8765\"\nstatus_token_file = \"/etc/t\"");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(ok->agent.status_tcp_host, "::1");
  EXPECT_EQ(ok->agent.status_tcp_port, 8765);
  for (const char* bad :
       {"0.0.0.0:8765", "127.0.0.1:0", "127.0.0.1:99999", "localhost", "10.0.0.1:80"}) {
    auto cfg = with(std::string("status_tcp = \"") + bad + "\"\nstatus_token_file = \"/etc/t\"");
    ASSERT_FALSE(cfg.ok()) << bad;
    EXPECT_NE(cfg.status().message().find("loopback"), std::string::npos) << cfg.status().message();
  }
  auto no_token = with("status_tcp = \"127.0.0.1:8765\"");
  ASSERT_FALSE(no_token.ok());
  EXPECT_NE(no_token.status().message().find("status_token_file"), std::string::npos);
  // No socket and no TCP: nobody could ask the agent how it is.
  auto none = with("status_socket = \"\"");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no status endpoint"), std::string::npos)
      << none.status().message();
  auto tcp_only = with(
      "status_socket = \"\"\nstatus_tcp = \"127.0.0.1:8765\"\n"
      "status_token_file = \"/etc/t\"");
  EXPECT_TRUE(tcp_only.ok()) << tcp_only.status().message();
}

TEST(Config, SyntaxErrorNamesTheLine) {
  auto cfg = ParseConfig("[agent]\nlog_level = \n", "a.toml");
  ASSERT_EQ(cfg.status().code(), Code::kConfig);
  EXPECT_NE(cfg.status().message().find("a.toml:2"), std::string::npos) << cfg.status().message();
}

TEST(Config, ExampleFileInTheRepositoryIsValid) {
  auto cfg = LoadConfig(AURA_SOURCE_DIR "/examples/agent.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
}

TEST(Config, AStandbyTableIsReadWithItsDefaults) {
  auto cfg = ParseConfig(
      "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"
      "[[standby]]\nname = \"a\"\npath = \"/s/a.db\"\nfrom = \"t\"\n"
      "[[standby]]\nname = \"b\"\npath = \"/s/b.db\"\nfrom = \"t\"\ndatabase = \"aura\"\n"
      "poll_interval = \"250ms\"\ncheck = \"full\"\nmax_lag = \"90s\"\n",
      "s.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  ASSERT_EQ(cfg->standbys.size(), 2u);
  const StandbyConfig& a = cfg->standbys[0];
  EXPECT_EQ(a.path, "/s/a.db");
  EXPECT_EQ(a.from, "t");
  EXPECT_EQ(a.database, "");
  EXPECT_EQ(a.poll_ms, 1000);
  EXPECT_EQ(a.check, "quick");
  EXPECT_EQ(a.max_lag_s, 300);
  const StandbyConfig& b = cfg->standbys[1];
  EXPECT_EQ(b.database, "aura");
  EXPECT_EQ(b.poll_ms, 250);
  EXPECT_EQ(b.check, "full");
  EXPECT_EQ(b.max_lag_s, 90);
  EXPECT_NE(cfg->Fingerprint(a), cfg->Fingerprint(b));

  auto dup = ParseConfig(
      "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"
      "[[standby]]\nname = \"a\"\npath = \"/s/a.db\"\nfrom = \"t\"\ncheck = \"fast\"\n"
      "[[standby]]\nname = \"a\"\npath = \"/s/a.db\"\nfrom = \"t\"\n",
      "s.toml");
  ASSERT_EQ(dup.status().code(), Code::kConfig);
  const std::string m = dup.status().message();
  EXPECT_NE(m.find("s.toml:9: [[standby]] 'a'.check must be"), std::string::npos) << m;
  EXPECT_NE(m.find("s.toml:10: duplicate standby 'a'"), std::string::npos) << m;
  EXPECT_NE(m.find("already follows /s/a.db"), std::string::npos) << m;

  auto escape = ParseConfig(
      "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"
      "[[standby]]\nname = \"a\\u001b[31m\"\npath = \"/s/a.db\"\nfrom = \"t\"\n",
      "s.toml");
  ASSERT_EQ(escape.status().code(), Code::kConfig);
  EXPECT_NE(escape.status().message().find("invalid database name"), std::string::npos)
      << escape.status().message();
}

// issue 14: errors about a key cited the line of its [[database]] table, not the key's.
TEST(Config, ConfigErrorsCitedTheDatabaseLineInsteadOfTheKeys) {
  auto cfg = ParseConfig(
      "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"  // 1-4
      "[[database]]\n"                                                   // 5
      "name = \"aura\"\npath = \"/a.db\"\ntargets = [\"t\"]\n"           // 6-8
      "generation_interval = \"5m\"\n"                                   // 9
      "pitr_window = \"soon\"\n"                                         // 10
      "[[standby]]\nname = \"s\"\npath = \"/s.db\"\nfrom = \"t\"\n"      // 11-14
      "poll_interval = \"1ms\"\n",                                       // 15
      "c.toml");
  ASSERT_EQ(cfg.status().code(), Code::kConfig);
  const std::string m = cfg.status().message();
  EXPECT_NE(m.find("c.toml:9: [[database]] 'aura'.generation_interval"), std::string::npos) << m;
  EXPECT_NE(m.find("c.toml:10: 'pitr_window' must be a duration"), std::string::npos) << m;
  EXPECT_NE(m.find("c.toml:15: [[standby]] 's'.poll_interval"), std::string::npos) << m;
  EXPECT_EQ(m.find("c.toml:5:"), std::string::npos) << m;
}

// issue 14: a config without a database was "valid" and the daemon ran, protecting nothing,
// without a word. It stays valid (a packaged default config has no database yet) but is warned
// about by `config check` and at every start of `run`.
TEST(Config, AnEmptyConfigWasValidAndRanWithNoDatabaseWithoutAWarning) {
  for (const char* text : {"", "[agent]\nlog_level = \"info\"\n",
                           "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"}) {
    auto cfg = ParseConfig(text, "e.toml");
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    EXPECT_NE(NothingConfiguredWarning(*cfg).find("e.toml configures no database"),
              std::string::npos);
  }
  auto one = ParseConfig(
      "[[target]]\nname = \"t\"\nurl = \"/r\"\nencryption = \"none\"\n"
      "[[database]]\nname = \"a\"\npath = \"/a.db\"\ntargets = [\"t\"]\n",
      "e.toml");
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ(NothingConfiguredWarning(*one), "");
}

// issue 14: `verify_tls = false` was taken without a word; it is warned about, naming the
// target's line and the fix.
TEST(Config, TlsVerificationTurnedOffIsWarnedAboutAtTheTargetsLine) {
  auto cfg = ParseConfig(
      "[[target]]\nname = \"a\"\nurl = \"s3://b/p\"\nencryption = \"none\"\n"
      "[[target]]\nname = \"b\"\nurl = \"s3://b/q\"\nverify_tls = false\nencryption = \"none\"\n"
      "[[target]]\nname = \"c\"\nurl = \"s3://b/r\"\nverify_tls = true\nencryption = \"none\"\n"
      "[[database]]\nname = \"d\"\npath = \"/d.db\"\ntargets = [\"a\"]\n",
      "t.toml");
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  std::vector<std::string> w = ConfigWarnings(*cfg);
  ASSERT_EQ(w.size(), 1U);
  EXPECT_EQ(w[0].rfind("t.toml:5: target 'b' sets verify_tls = false", 0), 0U) << w[0];
  EXPECT_NE(w[0].find("ca_bundle"), std::string::npos) << w[0];
}

TEST(Config, PassphraseFromAnUnsetVariableIsAKeyError) {
  ::unsetenv("AURA_TEST_UNSET_PASSPHRASE");
  EXPECT_EQ(PassphraseFromEnv("AURA_TEST_UNSET_PASSPHRASE").status().code(), Code::kKeyError);
}

}  // namespace
}  // namespace aura::agent
