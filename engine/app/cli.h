// The command line: `tripline run|replay|check|bench`, --help, --version. Lives in
// the library so tests can call it; main.cpp only forwards argc/argv.
#pragma once

namespace tripline {

int run_cli(int argc, char** argv);

}  // namespace tripline
