/*
 * seed_words.h - word lists for the seed generators (seed_words.c).
 */
#ifndef SEED_WORDS_H
#define SEED_WORDS_H

/* What a description says about one kind of product. */
struct words_kind {
    const char *const *adjs;     /* "crisp" */
    const char *const *uses;     /* "... made for the office" */
    const char *const *features; /* whole sentences */
};

extern const char *const words_first_names[];
extern const char *const words_last_names[];
extern const char *const words_sizes[];
extern const char *const words_colours[];
extern const char *const words_fabrics[];
extern const char *const words_fits[];
extern const char *const words_shirt_styles[];
extern const char *const words_trouser_fabrics[];
extern const char *const words_trouser_cuts[];
extern const char *const words_shoe_materials[];
extern const char *const words_shoe_types[];
extern const char *const words_models[];
extern const char *const words_cpus[];
extern const char *const words_ram[];
extern const char *const words_storage[];
extern const char *const words_laptop_screens[];
extern const char *const words_laptop_lines[];
extern const char *const words_phone_storage[];
extern const char *const words_phone_colours[];
extern const char *const words_phone_screens[];
extern const char *const words_phone_lines[];
extern const char *const words_headphone_types[];
extern const char *const words_yes_no[];
extern const char *const words_languages[];
extern const char *const words_kitchen_materials[];
extern const char *const words_capacities[];
extern const char *const words_kitchen_items[];
extern const char *const words_woods[];
extern const char *const words_furniture_colours[];
extern const char *const words_furniture_styles[];
extern const char *const words_furniture_items[];
extern const char *const words_fiction_title_adjs[];
extern const char *const words_fiction_title_nouns[];
extern const char *const words_nonfiction_patterns[];
extern const char *const words_topics[];
extern const char *const words_fashion_brands[];
extern const char *const words_shoe_brands[];
extern const char *const words_tech_brands[];
extern const char *const words_audio_brands[];
extern const char *const words_publishers[];
extern const char *const words_home_brands[];
extern const char *const words_closers[];

extern const struct words_kind words_kind_shirt;
extern const struct words_kind words_kind_trousers;
extern const struct words_kind words_kind_shoes;
extern const struct words_kind words_kind_laptop;
extern const struct words_kind words_kind_phone;
extern const struct words_kind words_kind_headphones;
extern const struct words_kind words_kind_fiction;
extern const struct words_kind words_kind_nonfiction;
extern const struct words_kind words_kind_kitchen;
extern const struct words_kind words_kind_furniture;

#endif
