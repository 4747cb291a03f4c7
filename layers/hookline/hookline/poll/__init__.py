"""Stage 1, poll: fetch the feeds, judge each new entry, pre-flight its link, make its draft."""
