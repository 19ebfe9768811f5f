/* elfsym.c: an ELF64 symbol table reader (elfsym.h).  Reads the whole file, checks every
 * offset and size against it before use (a truncated or hostile file gets an error, never an
 * out-of-bounds read), and keeps the STT_FUNC symbols with their names. */
#include "elfsym.h"
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Sym {
  uint64_t value, size;
  char *name;
} Sym;

struct ElfSyms {
  Sym *v;
  size_t n;
};

static char *read_all(const char *path, size_t *size, char *err, size_t errn) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errn, "cannot open '%s': %s", path, strerror(errno));
    return NULL;
  }
  char *buf = NULL;
  long len = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
  if (len >= 0 && !fseek(f, 0, SEEK_SET) && (buf = malloc(len ? (size_t)len : 1)) &&
      fread(buf, 1, (size_t)len, f) == (size_t)len) {
    fclose(f);
    *size = (size_t)len;
    return buf;
  }
  free(buf);
  fclose(f);
  snprintf(err, errn, "cannot read '%s'", path);
  return NULL;
}

/* 1 when [off, off + len) lies inside a file of size bytes. */
static int inside(uint64_t off, uint64_t len, size_t size) { return off <= size && len <= size - off; }

/* The section header of type want (SHT_SYMTAB, SHT_DYNSYM) with its string table, checked. */
static const Elf64_Shdr *find_table(const char *b, size_t size, const Elf64_Ehdr *eh, uint32_t want,
                                    const Elf64_Shdr **strtab) {
  const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
  for (unsigned i = 0; i < eh->e_shnum; i++) {
    if (sh[i].sh_type != want || sh[i].sh_entsize != sizeof(Elf64_Sym) || sh[i].sh_link >= eh->e_shnum) continue;
    const Elf64_Shdr *st = &sh[sh[i].sh_link];
    if (!inside(sh[i].sh_offset, sh[i].sh_size, size) || !inside(st->sh_offset, st->sh_size, size) ||
        sh[i].sh_offset % 8)
      continue;
    *strtab = st;
    return &sh[i];
  }
  return NULL;
}

static int collect(ElfSyms *s, const char *b, const Elf64_Shdr *tab, const Elf64_Shdr *str) {
  const Elf64_Sym *sym = (const Elf64_Sym *)(b + tab->sh_offset);
  size_t n = tab->sh_size / sizeof *sym;
  const char *names = b + str->sh_offset;
  s->v = calloc(n ? n : 1, sizeof *s->v);
  if (!s->v) return -1;
  for (size_t i = 0; i < n; i++) {
    if (ELF64_ST_TYPE(sym[i].st_info) != STT_FUNC || !sym[i].st_value || sym[i].st_name >= str->sh_size) continue;
    const char *nm = names + sym[i].st_name;
    size_t len = strnlen(nm, str->sh_size - sym[i].st_name);
    if (len == str->sh_size - sym[i].st_name) continue;   /* not terminated inside the table */
    Sym *o = &s->v[s->n];
    if (!(o->name = strdup(nm))) return -1;
    o->value = sym[i].st_value, o->size = sym[i].st_size;
    s->n++;
  }
  return 0;
}

ElfSyms *elfsym_load(const char *path, char *err, size_t errn) {
  size_t size = 0;
  char *b = read_all(path, &size, err, errn);
  if (!b) return NULL;
  const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
  ElfSyms *s = NULL;
  const Elf64_Shdr *tab = NULL, *str = NULL;
  if (size < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_ident[EI_DATA] != ELFDATA2LSB)
    snprintf(err, errn, "'%s' is not a little-endian ELF64 file", path);
  else if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff % 8 ||
           !inside(eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr), size))
    snprintf(err, errn, "'%s': section headers lie outside the file", path);
  else if (!(tab = find_table(b, size, eh, SHT_SYMTAB, &str)) && !(tab = find_table(b, size, eh, SHT_DYNSYM, &str)))
    snprintf(err, errn, "'%s' has no symbol table", path);
  else if (!(s = calloc(1, sizeof *s)) || collect(s, b, tab, str)) {
    snprintf(err, errn, "out of memory reading '%s'", path);
    elfsym_free(s);
    s = NULL;
  }
  free(b);
  return s;
}

const char *elfsym_find(const ElfSyms *s, uint64_t addr) {
  for (size_t i = 0; s && i < s->n; i++)
    if (addr == s->v[i].value || (addr > s->v[i].value && addr - s->v[i].value < s->v[i].size)) return s->v[i].name;
  return NULL;
}

void elfsym_free(ElfSyms *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) free(s->v[i].name);
  free(s->v);
  free(s);
}
