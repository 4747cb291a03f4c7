"""Stage 3, approval: review pages, decisions, approvers' notifications and reminders."""
