# Case engine models arrive with the case-engine issue (#3).
