"""What people read: terminal tables, the audit report, explanations, labels and language."""
