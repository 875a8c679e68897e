# Assessment models arrive with the assessment issue (#7).
