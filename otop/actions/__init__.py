"""What a person does to an agent: jump, answer, reply, yank, pick the next one."""
