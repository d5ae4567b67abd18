"""What every stage shares: errors, frozen records, the cache folder, condition operators, files
written atomically and hashed in chunks."""
