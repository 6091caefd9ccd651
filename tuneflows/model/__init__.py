"""Pure helpers of the public model: what makes a trial best, round requests and outcomes,
how a trial ended, algorithms by name. Plain data; no engine, no files."""
