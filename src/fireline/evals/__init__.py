"""The eval lock: regression cases from incidents, run N times against any OpenAI-compatible
endpoint, a pass when each case's failure rate is credibly under the threshold; JUnit XML and
Markdown for CI; export to promptfoo."""
