"""The local rehearsal: the promotion on an embedded AWS emulator (moto). A test harness, not delivery code."""
