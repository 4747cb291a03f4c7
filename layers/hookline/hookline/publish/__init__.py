"""Stage 4, publish: post approved drafts to the corporate accounts, exactly once, paced."""
