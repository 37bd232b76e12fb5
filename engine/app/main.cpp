#include "cli.h"

int main(int argc, char** argv) { return tripline::run_cli(argc, argv); }
