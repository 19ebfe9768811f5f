/* import_hf.h: modc import-hf (tools/import_hf.c), a spec for a Hugging Face Llama folder. */
#ifndef MODC_IMPORT_HF_H
#define MODC_IMPORT_HF_H

/* argv: the arguments after "import-hf"; returns the exit status. */
int import_hf_main(int argc, char **argv);

#endif
