// The value syntaxes: durations and quantities (base64 is common/base64_test.cc).

#include <gtest/gtest.h>

#include <string>

#include "common/expect_each_test_util.h"
#include "config/loader_test_util.h"
#include "config/model.h"

namespace tollgate::config {
namespace {

TEST(ParseTest, Durations) {
  expectEach<uint64_t>(parseDurationMs, {
                                            {"60s", 60000u},
                                            {"1m", 60000u},
                                            {"500ms", 500u},
                                            {"1h30m", 5400000u},
                                            {"1h1m1s1ms", 3661001u},
                                            {"0s", 0u},
                                            {"99999h", 99999ull * 3600 * 1000},
                                        });
  for (const char* bad : {"", "1", "s", "ms", "1d", "-1s", "1.5s", "123456s", "1s1s1s1s1s", " 1s",
                          "1s ", "1S", "10 s"}) {
    EXPECT_FALSE(parseDurationMs(bad).has_value()) << bad;
  }
}

TEST(ParseTest, Quantities) {
  expectEach<uint64_t>(parseQuantityBytes, {
                                               {"50Mi", 52428800u},
                                               {"1Gi", 1073741824u},
                                               {"1Ki", 1024u},
                                               {"500k", 500000u},
                                               {"1024", 1024u},
                                               {"+1024", 1024u},
                                               {"1.5Ki", 1536u},
                                               {"1.5Gi", 1610612736u},
                                               {"2M", 2000000u},
                                               {"1G", 1000000000u},
                                               {"1E", 1000000000000000000u},
                                               {"1e3", 1000u},
                                               {"1E6", 1000000u},
                                           });
  EXPECT_EQ(parseQuantityBytes("0.5"), 1u);    // a fraction of a byte rounds up
  EXPECT_EQ(parseQuantityBytes("1500m"), 2u);  // milli-bytes, rounded up
  expectEach<uint64_t>(parseQuantityBytes, {
                                               {".5k", 500u},
                                               {"0", 0u},
                                               {"15Ei", 15ull << 60},
                                           });
  for (const char* bad :
       {"", "Mi", "50MB", "50mi", "-1", "1.2.3", "1 Mi", "1e", "16Ei", "1e30", "abc", "50Mi "}) {
    EXPECT_FALSE(parseQuantityBytes(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tollgate::config
