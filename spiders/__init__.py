"""Scrapy spiders: what lastseen visits. The capturing itself lives in crawler/."""
