/* elfsym.h: function names of an ELF64 shared library by address (its .symtab, else
 * .dynsym), for modc bench --profile, which gets kernel addresses from the runtime's
 * MODC_PROFILE table as offsets from the library's load address. */
#ifndef MODC_ELFSYM_H
#define MODC_ELFSYM_H

#include <stddef.h>
#include <stdint.h>

typedef struct ElfSyms ElfSyms;

/* The function symbols of the file at path; NULL (with a message in err) when it cannot be
 * read or is not a well-formed little-endian ELF64 file with a symbol table. */
ElfSyms *elfsym_load(const char *path, char *err, size_t errn);
/* The function whose [value, value + size) holds addr (an exact value when size is 0);
 * NULL when none. */
const char *elfsym_find(const ElfSyms *s, uint64_t addr);
void elfsym_free(ElfSyms *s);

#endif
