// Text from outside (plugin names, paths, reasons, environment values) made safe to print:
// on a terminal no byte may move the cursor, change colours or start a new line, and JSON
// output must be valid UTF-8. Header-only, used by the core's log lines and by the tools.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace xinhe::util {

// Length of the valid UTF-8 sequence starting at s[i] (1-4), or 0 when the bytes there are not
// valid UTF-8 (overlong forms, surrogates and code points past U+10FFFF are invalid). Writes
// the code point.
inline size_t utf8_sequence(const std::string& s, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  }
  size_t length = 0;
  uint32_t cp = 0, min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    length = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    const unsigned char b = byte(i + k);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return length;
}

// True for code points that change how a terminal shows the text rather than showing a
// character: C0 and C1 controls, DEL, line/paragraph separators and the bidirectional
// overrides/isolates (which can make a name read differently from its bytes).
inline bool is_control_code_point(uint32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// text with every control character and every byte that is not valid UTF-8 written as an
// escape: "\x1b", "\n" as "\x0a", a stray byte 0xff as "\xff", U+0085 or U+202E as "\u0085" or
// "\u202e". A backslash itself becomes "\\", so the escaped text reads back unambiguously.
// The result is valid, printable UTF-8.
inline std::string escape_for_display(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  char buf[16];
  for (size_t i = 0; i < text.size();) {
    uint32_t cp = 0;
    const size_t n = utf8_sequence(text, i, &cp);
    if (n == 0) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned char>(text[i]));
      out += buf;
      ++i;
      continue;
    }
    if (cp == '\\') {
      out += "\\\\";
    } else if (is_control_code_point(cp)) {
      if (cp < 0x80) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp));
      } else {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      }
      out += buf;
    } else {
      out.append(text, i, n);
    }
    i += n;
  }
  return out;
}

}  // namespace xinhe::util
