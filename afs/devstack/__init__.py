"""The embedded default: local servers, the demo, the emulator samples."""
