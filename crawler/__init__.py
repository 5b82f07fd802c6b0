"""lastseen's crawler half: the Scrapy project that drives Chromium and records what it saw."""
