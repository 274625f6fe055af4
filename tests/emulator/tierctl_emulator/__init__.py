"""tierctl_emulator: a local AWS emulator (moto + realism) for tierctl's tests."""
