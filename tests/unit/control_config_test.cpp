// [control] keys: defaults, values, and refusals naming the key.
#include <gtest/gtest.h>

#include "config.h"

namespace tripline {
namespace {

TEST(ControlConfig, DefaultsAndValues) {
  Config d = Config::defaults();
  EXPECT_EQ(d.control.socket, "/run/tripline/control.sock");
  EXPECT_TRUE(d.control.socket_default);
  Config c = Config::load_string(
      "[control]\nsocket = \"/tmp/x/ctl.sock\"\ngroup = \"adm\"\nmax_clients = 3\ntimeout_ms = "
      "100\n",
      "t.toml");
  EXPECT_EQ(c.control.socket, "/tmp/x/ctl.sock");
  EXPECT_FALSE(c.control.socket_default);
  EXPECT_EQ(c.control.group, "adm");
  EXPECT_EQ(c.control.max_clients, 3u);
  EXPECT_EQ(c.control.timeout_ms, 100u);
  Config off = Config::load_string("[control]\nsocket = \"\"\n", "t.toml");
  EXPECT_TRUE(off.control.socket.empty());
}

TEST(ControlConfig, RefusesBadValues) {
  for (const char* bad : {"[control]\nmax_clients = 0\n", "[control]\ntimeout_ms = 1\n",
                          "[control]\nsocket = 5\n", "[control]\nunknown = 1\n"}) {
    EXPECT_THROW(Config::load_string(bad, "t.toml"), ConfigError) << bad;
  }
  std::string long_path = "[control]\nsocket = \"/" + std::string(120, 'a') + "\"\n";
  EXPECT_THROW(Config::load_string(long_path, "t.toml"), ConfigError);
}

}  // namespace
}  // namespace tripline
