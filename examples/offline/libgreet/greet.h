#ifndef GREET_H
#define GREET_H
/* Writes "hello, NAME" into buf (at most size bytes, NUL-terminated); returns the length wanted. */
int greet(char *buf, unsigned long size, const char *name);
#endif
