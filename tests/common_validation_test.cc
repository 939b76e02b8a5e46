// CheckFinite, ValidateName and the packed float wire format.

#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "common/float_bytes.h"
#include "common/validation.h"
#include "gtest/gtest.h"

namespace lrmem {
namespace {

std::string Lower(const absl::Status& status) {
  return absl::AsciiStrToLower(status.message());
}

TEST(CheckFiniteTest, AcceptsFiniteValues) {
  const std::vector<float> values = {0.0f, -0.0f, 1e-45f,
                                     std::numeric_limits<float>::max(),
                                     -std::numeric_limits<float>::max()};
  EXPECT_TRUE(CheckFinite(values, "x").ok());
  EXPECT_TRUE(CheckFinite({}, "x").ok());
}

TEST(CheckFiniteTest, NamesTheFirstBadIndexAndWhatItIs) {
  std::vector<float> values(40, 1.0f);
  values[17] = std::numeric_limits<float>::quiet_NaN();
  values[30] = std::numeric_limits<float>::infinity();
  absl::Status status = CheckFinite(values, "group 'conv1': gradient signal");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("group 'conv1': gradient signal"),
            std::string::npos)
      << status;
  EXPECT_NE(status.message().find("17"), std::string::npos) << status;
  EXPECT_NE(Lower(status).find("nan"), std::string::npos) << status;

  values[17] = 1.0f;
  status = CheckFinite(values, "w");
  EXPECT_NE(status.message().find("30"), std::string::npos) << status;
  EXPECT_NE(Lower(status).find("inf"), std::string::npos) << status;
  EXPECT_EQ(Lower(status).find("-inf"), std::string::npos) << status;
  EXPECT_EQ(Lower(status).find("nan"), std::string::npos) << status;

  values[30] = 1.0f;
  values[0] = -std::numeric_limits<float>::infinity();
  status = CheckFinite(values, "w");
  EXPECT_NE(status.message().find("0"), std::string::npos) << status;
  EXPECT_NE(Lower(status).find("-inf"), std::string::npos) << status;
}

// Large arrays are checked block by block; the first bad index is found
// wherever it sits, block edges included.
TEST(CheckFiniteTest, FindsTheFirstBadIndexOfALargeArray) {
  std::vector<float> values(100000, 0.5f);
  EXPECT_TRUE(CheckFinite(values, "w").ok());
  for (size_t bad :
       {size_t{4095}, size_t{4096}, size_t{65537}, size_t{99999}}) {
    values[bad] = std::numeric_limits<float>::quiet_NaN();
    values[99999] = std::numeric_limits<float>::infinity();
    const absl::Status status = CheckFinite(values, "w");
    EXPECT_NE(status.message().find("index " + std::to_string(bad) + " "),
              std::string::npos)
        << status;
    values[bad] = 0.5f;
    values[99999] = 0.5f;
  }
  // Every NaN payload and both infinities, not only the usual bits.
  for (uint32_t bits : {0x7F800001u, 0xFFC00000u, 0x7FFFFFFFu, 0xFF800000u}) {
    float bad;
    std::memcpy(&bad, &bits, sizeof(bad));
    values[70000] = bad;
    EXPECT_FALSE(CheckFinite(values, "w").ok()) << std::hex << bits;
    values[70000] = 0.5f;
  }
}

TEST(ValidateNameTest, AcceptsOrdinaryAndMultibyteNames) {
  for (const std::string& name : std::vector<std::string>{
           "a", "mnist/1v2", "conv1.weight", "layer 3", "caf\xc3\xa9",
           "\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\xef\xbf\xbd",
           "\xf4\x8f\xbf\xbf", std::string(kMaxNameBytes, 'x')}) {
    EXPECT_TRUE(ValidateName("memory", name).ok())
        << name << ": " << ValidateName("memory", name);
  }
}

TEST(ValidateNameTest, RefusesEmptyAndTooLongNames) {
  absl::Status status = ValidateName("memory", "");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("memory", 0), 0u) << status;
  status = ValidateName("snapshot", std::string(kMaxNameBytes + 1, 'x'));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message().rfind("snapshot", 0), 0u) << status;
  // Counted in bytes: 129 two-byte characters are too long.
  std::string wide;
  for (int i = 0; i < 129; ++i) wide += "\xc3\xa9";
  EXPECT_FALSE(ValidateName("group", wide).ok());
}

TEST(ValidateNameTest, RefusesControlCharacters) {
  for (const std::string& name : std::vector<std::string>{
           std::string("a\nb"), std::string("\t"), std::string("x\x01"),
           std::string("del\x7f"), std::string("a\0b", 3), std::string("\r"),
           std::string("esc\x1b[0m")}) {
    EXPECT_EQ(ValidateName("learner", name).code(),
              absl::StatusCode::kInvalidArgument)
        << name;
  }
}

TEST(ValidateNameTest, RefusesC1ControlCharacters) {
  // U+0085 (next line) and U+009B (control sequence introducer).
  EXPECT_FALSE(ValidateName("learner", "a\xc2\x85").ok());
  EXPECT_FALSE(ValidateName("learner", "\xc2\x9b").ok());
}

TEST(ValidateNameTest, RefusesInvalidUtf8) {
  for (const std::string& name : std::vector<std::string>{
           "\xff",                  // never valid
           "\x80",                  // lone continuation byte
           "a\xc3",                 // truncated two-byte sequence
           "\xe2\x82",              // truncated three-byte sequence
           "\xc0\xaf",              // overlong '/'
           "\xc1\xbf",              // overlong
           "\xe0\x80\xaf",          // overlong three-byte '/'
           "\xf0\x80\x80\xaf",      // overlong four-byte '/'
           "\xed\xa0\x80",          // surrogate U+D800
           "\xed\xbf\xbf",          // surrogate U+DFFF
           "\xf4\x90\x80\x80",      // above U+10FFFF
           "\xf8\x88\x80\x80\x80",  // five-byte form
           "\xe2\x28\xa1",          // bad continuation
       }) {
    EXPECT_EQ(ValidateName("memory", name).code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CEscape(name);
  }
}

uint32_t Bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof(u));
  return u;
}

TEST(FloatBytesTest, PacksLittleEndianFourBytesPerValue) {
  EXPECT_EQ(PackFloats({1.0f}), std::string("\x00\x00\x80\x3f", 4));
  EXPECT_EQ(PackFloats({-2.0f, 0.0f}),
            std::string("\x00\x00\x00\xc0\x00\x00\x00\x00", 8));
  EXPECT_EQ(PackFloats({}), "");
  std::string out = "previous contents";
  PackFloats({1.0f}, &out);
  EXPECT_EQ(out, std::string("\x00\x00\x80\x3f", 4));
}

TEST(FloatBytesTest, RoundTripIsBitExact) {
  std::vector<float> values = {0.0f,
                               -0.0f,
                               1e-45f,
                               -1.17549435e-38f,
                               3.14159265f,
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::infinity(),
                               -std::numeric_limits<float>::infinity()};
  float nan;
  const uint32_t nan_bits = 0x7fc12345u;
  std::memcpy(&nan, &nan_bits, sizeof(nan));
  values.push_back(nan);
  const std::string bytes = PackFloats(values);
  EXPECT_EQ(bytes.size(), 4 * values.size());
  size_t count = 0;
  ASSERT_TRUE(CountFloats(bytes, "values", &count).ok());
  EXPECT_EQ(count, values.size());
  std::vector<float> back = {42.0f};
  ASSERT_TRUE(UnpackFloats(bytes, "values", &back).ok());
  ASSERT_EQ(back.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(Bits(back[i]), Bits(values[i])) << i;
  }
  ASSERT_TRUE(UnpackFloats("", "values", &back).ok());
  EXPECT_TRUE(back.empty());
}

TEST(FloatBytesTest, RefusesLengthsThatAreNotMultiplesOfFour) {
  for (size_t length : {1u, 2u, 3u, 5u, 7u, 4001u}) {
    const std::string bytes(length, '\x01');
    std::vector<float> out = {1.0f, 2.0f};
    const absl::Status status = UnpackFloats(bytes, "gradient signal", &out);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << length;
    EXPECT_NE(status.message().find("gradient signal"), std::string::npos)
        << status;
    size_t count = 99;
    EXPECT_EQ(CountFloats(bytes, "statistic", &count).code(),
              absl::StatusCode::kInvalidArgument)
        << length;
  }
}

}  // namespace
}  // namespace lrmem
