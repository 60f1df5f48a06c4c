// Command-line parsing shared by the tools: every refusal of the command line exits 2, as the
// tools' own checks of their arguments do (CLI11's own exit codes are 100 and up, one per kind
// of error, which scripts cannot tell from a tool's failure), and --help exits 0.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdio>

namespace xinhe::tools {

inline constexpr int kExitBadCommandLine = 2;

// -1 when the command line was accepted; otherwise the exit status for main to return.
inline int parse_command_line(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);  // prints the message and the "Run with --help" line on stderr
    return kExitBadCommandLine;
  }
  return -1;
}

}  // namespace xinhe::tools

// In main: the tool's CLI11_PARSE, with exit status 2 for a refused command line.
#define XINHE_TOOL_PARSE(app, argc, argv)                                           \
  do {                                                                              \
    const int xinhe_tool_exit = ::xinhe::tools::parse_command_line(app, argc, argv); \
    if (xinhe_tool_exit >= 0) return xinhe_tool_exit;                               \
  } while (false)
