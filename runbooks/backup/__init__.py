"""Resource-configuration backup: export every served resource to files, apply an export elsewhere, compare clusters."""
