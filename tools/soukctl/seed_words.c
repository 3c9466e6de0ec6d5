/*
 * seed_words.c - the word lists the seed builds names, descriptions and
 * people from. Data only: every list ends with NULL and is read through
 * rng_pick. Repeated entries are weights.
 */
#include <stddef.h>

#include "seed_words.h"

const char *const words_first_names[] = {
    "Emma",   "Liam",  "Sofia", "Noah",  "Mia",   "Lucas", "Olivia", "Elias",  "Hannah",
    "Mateo",  "Lea",   "Finn",  "Chloe", "Jonas", "Ava",   "Leon",   "Julia",  "Hugo",
    "Clara",  "Oscar", "Nora",  "Felix", "Alice", "Theo",  "Ida",    "Samuel", "Maya",
    "Adam",   "Lina",  "David", "Zoe",   "Louis", "Elena", "Max",    "Sara",   "Jan",
    "Amelie", "Marco", "Ines",  "Tom",   NULL,
};

const char *const words_last_names[] = {
    "Müller",    "Schmidt",   "Martin",  "Bernard", "Jansen",    "de Vries", "Rossi",
    "Bianchi",   "García",    "López",   "Nielsen", "Andersson", "Kowalski", "Novak",
    "Smith",     "Jones",     "Dubois",  "Fischer", "Weber",     "Meyer",    "Visser",
    "Romano",    "Silva",     "Costa",   "Larsen",  "Berg",      "Horvat",   "Brown",
    "Taylor",    "Moreau",    "Lambert", "Wagner",  "Becker",    "Hoffmann", "Ricci",
    "Fernández", "Lindqvist", "Eriksen", "Walsh",   "Murphy",    NULL,
};

const char *const words_sizes[] = {
    "XS", "S", "M", "M", "L", "L", "XL", "XXL", NULL,
};

const char *const words_colours[] = {
    "Blue",     "Navy", "White",        "Black",      "Grey", "Olive", "Burgundy",
    "Charcoal", "Sand", "Forest Green", "Light Blue", "Pink", NULL,
};

const char *const words_fabrics[] = {
    "Cotton", "Organic Cotton", "Linen", "Cotton-Linen Blend", "Merino Wool", "Cotton Twill", NULL,
};

const char *const words_fits[] = {
    "Slim", "Regular", "Relaxed", "Tailored", NULL,
};

const char *const words_shirt_styles[] = {
    "Oxford", "Poplin", "Flannel", "Chambray", "Denim", "Twill", "Button-Down", "Henley", NULL,
};

const char *const words_trouser_fabrics[] = {
    "Cotton Twill", "Wool", "Denim", "Linen", "Corduroy", "Stretch Cotton", NULL,
};

const char *const words_trouser_cuts[] = {
    "Chino", "Cargo", "Tailored", "Straight-Leg", "Relaxed", "Pleated", NULL,
};

const char *const words_shoe_materials[] = {
    "Leather", "Suede", "Canvas", "Mesh", "Nubuck", NULL,
};

const char *const words_shoe_types[] = {
    "Sneaker", "Running Shoe", "Loafer",      "Chelsea Boot",
    "Derby",   "Trail Runner", "Hiking Boot", NULL,
};

const char *const words_models[] = {
    "Aero",  "Metro",  "Trail", "Nova",   "Apex", "Orbit", "Vega",
    "Atlas", "Zephyr", "Pulse", "Summit", "Echo", NULL,
};

const char *const words_cpus[] = {
    "i5", "i7", "i9", "Ryzen 5", "Ryzen 7", "Ryzen 9", "M2", "M3", NULL,
};

const char *const words_ram[] = {
    "8", "16", "16", "32", "64", NULL,
};

const char *const words_storage[] = {
    "256", "512", "512", "1024", "2048", NULL,
};

const char *const words_laptop_screens[] = {
    "13.3", "14", "15.6", "16", "17.3", NULL,
};

const char *const words_laptop_lines[] = {
    "ProBook", "AirBook", "ZenLite", "Vector", "Inspire", "Carbon", "Studio", "Blade", NULL,
};

const char *const words_phone_storage[] = {
    "64", "128", "128", "256", "512", NULL,
};

const char *const words_phone_colours[] = {
    "Midnight Black", "Arctic White", "Ocean Blue", "Graphite",
    "Rose Gold",      "Forest Green", "Silver",     NULL,
};

const char *const words_phone_screens[] = {
    "5.8", "6.1", "6.4", "6.7", NULL,
};

const char *const words_phone_lines[] = {
    "Nova", "Pulse", "Edge", "Zen", "Spark", "Vista", "Aura", NULL,
};

const char *const words_headphone_types[] = {
    "Over-Ear",
    "On-Ear",
    "In-Ear",
    NULL,
};

const char *const words_yes_no[] = {
    "yes",
    "yes",
    "no",
    NULL,
};

const char *const words_languages[] = {
    "English", "English", "English", "German", "French", "Spanish", "Dutch", "Italian", NULL,
};

const char *const words_kitchen_materials[] = {
    "Stainless Steel", "Cast Iron", "Enamelled Cast Iron", "Copper", "Ceramic",
    "Carbon Steel",    NULL,
};

const char *const words_capacities[] = {
    "0.5", "1", "1.5", "2", "3", "4", "5", "7.5", NULL,
};

const char *const words_kitchen_items[] = {
    "Saucepan", "Stockpot",   "Kettle",    "Casserole", "Frying Pan",
    "Wok",      "Dutch Oven", "Sauté Pan", NULL,
};

const char *const words_woods[] = {
    "Oak", "Walnut", "Pine", "Birch", "Ash", "Beech", "Teak", NULL,
};

const char *const words_furniture_colours[] = {
    "Natural", "White", "Black", "Grey", "Honey", "Dark Brown", NULL,
};

const char *const words_furniture_styles[] = {
    "Nordic", "Industrial", "Classic", "Mid-Century", "Minimal", "Rustic", NULL,
};

const char *const words_furniture_items[] = {
    "Desk",  "Dining Table", "Coffee Table", "Bookshelf", "Sideboard",
    "Bench", "TV Stand",     "Wardrobe",     NULL,
};

const char *const words_fiction_title_adjs[] = {
    "Silent",   "Forgotten", "Last",   "Hidden",  "Crimson", "Winter", "Burning", "Glass",
    "Midnight", "Hollow",    "Secret", "Distant", "Paper",   "Salt",   "Iron",    NULL,
};

const char *const words_fiction_title_nouns[] = {
    "Harbour",    "Garden",       "Orchard", "Lighthouse", "River",  "Kingdom",
    "Letter",     "Station",      "Island",  "Archive",    "Violin", "Frontier",
    "Clockmaker", "Cartographer", "Tide",    NULL,
};

const char *const words_nonfiction_patterns[] = {
    "The Art of %s — %s",
    "A Short History of %s — %s",
    "%s for Everyone — %s",
    "Understanding %s — %s",
    "The Hidden Life of %s — %s",
    "Thinking About %s — %s",
    NULL,
};

const char *const words_topics[] = {
    "Bread",       "Sleep",   "Money",        "Habits", "Data",         "Gardening",  "Chess",
    "Coffee",      "Memory",  "Maps",         "Bees",   "Clouds",       "Typography", "Negotiation",
    "Photography", "Running", "Fermentation", "Birds",  "Architecture", "Statistics", NULL,
};

const char *const words_fashion_brands[] = {
    "Acme",      "Northbound", "Tailor & Thread", "Kestrel", "Fjordline",
    "Urban Oak", "Marlowe",    "Bluebird",        NULL,
};

const char *const words_shoe_brands[] = {
    "Stride", "Kestrel", "Footloom", "Pathway", "Strada", NULL,
};

const char *const words_tech_brands[] = {
    "Nordtek", "Veltra", "Quantix", "Lumio", "Corvex", "Aperio", NULL,
};

const char *const words_audio_brands[] = {
    "Sonique", "Nordtek", "Auralis", "Bassline", "Quietly", NULL,
};

const char *const words_publishers[] = {
    "Northwind Press", "Quill & Key", "Harbour House", "Lantern Books", "Meridian",
    "Blue Fern",       NULL,
};

const char *const words_home_brands[] = {
    "Kochwerk", "Hygge Home", "Casa Nova", "Ironstone", "Oakhaus", "Lindqvist", NULL,
};

const char *const words_closers[] = {
    "Ships within two working days.",
    "Free returns within 30 days.",
    "Backed by a two-year warranty.",
    "Free delivery on orders over 50 euros.",
    "Customers rate it among our best sellers.",
    NULL,
};

static const char *const words_shirt_adjs[] = {
    "crisp", "breathable", "classic", "versatile", "easy-care", "smart", NULL,
};

static const char *const words_shirt_uses[] = {
    "the office", "weekend brunches", "smart-casual evenings", "travel", "warm summer days", NULL,
};

static const char *const words_shirt_features[] = {
    "The collar keeps its shape wash after wash.",
    "Reinforced seams and sturdy buttons add durability.",
    "The fabric is pre-washed for a soft hand feel and minimal shrinkage.",
    "A longer back hem means it stays tucked in.",
    "It pairs as well with chinos as it does with a suit.",
    "It is cut for freedom of movement without excess fabric.",
    NULL,
};

const struct words_kind words_kind_shirt = {words_shirt_adjs, words_shirt_uses,
                                            words_shirt_features};

static const char *const words_trousers_adjs[] = {
    "comfortable", "tailored", "hard-wearing", "versatile", "smart", NULL,
};

static const char *const words_trousers_uses[] = {
    "the office", "everyday wear", "long walks", "travel days", NULL,
};

static const char *const words_trousers_features[] = {
    "A hint of stretch keeps them comfortable all day.",
    "Deep pockets hold a phone and wallet securely.",
    "The waistband has hidden belt loops and a secure button closure.",
    "They are garment-dyed for a soft, lived-in look.",
    "Double-stitched seams stand up to daily wear.",
    NULL,
};

const struct words_kind words_kind_trousers = {words_trousers_adjs, words_trousers_uses,
                                               words_trousers_features};

static const char *const words_shoes_adjs[] = {
    "lightweight", "cushioned", "durable", "stylish", "all-day", NULL,
};

static const char *const words_shoes_uses[] = {
    "city walking", "daily runs", "long shifts on your feet", "weekend trips", NULL,
};

static const char *const words_shoes_features[] = {
    "A cushioned insole absorbs impact with every step.",
    "The rubber outsole grips well on wet pavements.",
    "A padded collar keeps your heel in place.",
    "The upper breathes well on warm days.",
    "They are easy to clean with a damp cloth.",
    NULL,
};

const struct words_kind words_kind_shoes = {words_shoes_adjs, words_shoes_uses,
                                            words_shoes_features};

static const char *const words_laptop_adjs[] = {
    "powerful", "thin-and-light", "dependable", "fast", "quiet", NULL,
};

static const char *const words_laptop_uses[] = {
    "work on the go", "students", "creative professionals", "home offices", NULL,
};

static const char *const words_laptop_features[] = {
    "The battery lasts a full working day on a single charge.",
    "A backlit keyboard makes late-night sessions easy.",
    "Two USB-C ports support charging and external displays.",
    "The aluminium chassis weighs barely more than a notebook.",
    "Wi-Fi 6 keeps video calls smooth.",
    "A 1080p webcam with a privacy shutter is built in.",
    NULL,
};

const struct words_kind words_kind_laptop = {words_laptop_adjs, words_laptop_uses,
                                             words_laptop_features};

static const char *const words_phone_adjs[] = {
    "sleek", "fast", "pocket-friendly", "capable", "stylish", NULL,
};

static const char *const words_phone_uses[] = {
    "everyday photography", "staying connected", "mobile gaming", "busy days", NULL,
};

static const char *const words_phone_features[] = {
    "The triple camera handles low light with ease.",
    "Fast charging reaches 50 percent in under 30 minutes.",
    "The OLED display is bright enough for direct sunlight.",
    "It is water and dust resistant to IP68.",
    "Five years of security updates are included.",
    NULL,
};

const struct words_kind words_kind_phone = {words_phone_adjs, words_phone_uses,
                                            words_phone_features};

static const char *const words_headphones_adjs[] = {
    "immersive", "comfortable", "lightweight", "premium", "punchy", NULL,
};

static const char *const words_headphones_uses[] = {
    "commuting", "long flights", "focused work", "workouts", NULL,
};

static const char *const words_headphones_features[] = {
    "Active noise cancelling blocks out engine hum and office chatter.",
    "Memory-foam cushions stay comfortable for hours.",
    "The battery lasts up to 30 hours.",
    "A built-in microphone keeps calls clear.",
    "They fold flat into the included case.",
    NULL,
};

const struct words_kind words_kind_headphones = {words_headphones_adjs, words_headphones_uses,
                                                 words_headphones_features};

static const char *const words_fiction_adjs[] = {
    "gripping", "moving", "beautifully written", "atmospheric", "page-turning", NULL,
};

static const char *const words_fiction_uses[] = {
    "long train journeys", "rainy weekends", "book clubs", "bedtime reading", NULL,
};

static const char *const words_fiction_features[] = {
    "Critics have called it the most memorable debut of the decade.",
    "Told across three generations, it is a story of loss and belonging.",
    "The twist in the final chapter will stay with you.",
    "Its vivid characters feel like old friends.",
    "It was shortlisted for a major literary prize.",
    NULL,
};

const struct words_kind words_kind_fiction = {words_fiction_adjs, words_fiction_uses,
                                              words_fiction_features};

static const char *const words_nonfiction_adjs[] = {
    "insightful", "accessible", "thought-provoking", "well-researched", "practical", NULL,
};

static const char *const words_nonfiction_uses[] = {
    "curious minds", "students", "lifelong learners", "anyone starting out", NULL,
};

static const char *const words_nonfiction_features[] = {
    "Each chapter ends with practical exercises.",
    "The author draws on twenty years of research.",
    "Clear illustrations make complex ideas simple.",
    "It is full of surprising stories and memorable facts.",
    "A thorough index and further reading list are included.",
    NULL,
};

const struct words_kind words_kind_nonfiction = {words_nonfiction_adjs, words_nonfiction_uses,
                                                 words_nonfiction_features};

static const char *const words_kitchen_adjs[] = {
    "sturdy", "versatile", "professional-grade", "easy-to-clean", "dependable", NULL,
};

static const char *const words_kitchen_uses[] = {
    "everyday cooking", "family dinners", "slow Sunday stews", "small kitchens", NULL,
};

static const char *const words_kitchen_features[] = {
    "It works on gas, electric and induction hobs.",
    "The heavy base spreads heat evenly with no hot spots.",
    "Stay-cool handles make it safe to move.",
    "It is dishwasher safe.",
    "It is oven safe up to 250 degrees Celsius.",
    NULL,
};

const struct words_kind words_kind_kitchen = {words_kitchen_adjs, words_kitchen_uses,
                                              words_kitchen_features};

static const char *const words_furniture_adjs[] = {
    "solid", "timeless", "space-saving", "handcrafted", "sturdy", NULL,
};

static const char *const words_furniture_uses[] = {
    "small apartments", "family homes", "home offices", "open-plan living", NULL,
};

static const char *const words_furniture_features[] = {
    "It is made from sustainably sourced timber.",
    "Assembly takes about twenty minutes with the included tools.",
    "The surface is finished with a hard-wearing natural oil.",
    "Adjustable feet keep it level on uneven floors.",
    "Rounded edges make it family friendly.",
    NULL,
};

const struct words_kind words_kind_furniture = {words_furniture_adjs, words_furniture_uses,
                                                words_furniture_features};
