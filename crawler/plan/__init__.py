"""What to capture and when: seed files, schedules, follow rules, robots.txt."""
