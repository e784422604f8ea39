"""Running Vivado: the subprocess runner, its log parser, and an honest emulator for tests."""
