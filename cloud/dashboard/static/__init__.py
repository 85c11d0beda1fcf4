"""Static files of the dashboard (a package so the wheel ships them)."""
