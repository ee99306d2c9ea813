/**
 * Built-in word lists for the `name` and `address` transforms: common given names and surnames
 * (no pairing of them describes anyone), and street and town names made from ordinary words.
 * Every word is plain ASCII, so a masked value never needs more bytes than characters.
 */

/** Given names. */
export const FIRST_NAMES: readonly string[] = [
  'Adam', 'Alex', 'Alice', 'Amelia', 'Anna', 'Arthur', 'Ben', 'Bella', 'Carl', 'Chloe',
  'Clara', 'Daniel', 'David', 'Diana', 'Eli', 'Ella', 'Emil', 'Emma', 'Eric', 'Eva',
  'Felix', 'Fiona', 'Frank', 'Grace', 'Hana', 'Hannah', 'Hugo', 'Ida', 'Igor', 'Iris',
  'Ivan', 'Jack', 'Jane', 'Jonas', 'Julia', 'Kai', 'Karen', 'Kevin', 'Laura', 'Leo',
  'Lena', 'Liam', 'Lucy', 'Luis', 'Maria', 'Mark', 'Marta', 'Max', 'Mia', 'Nina',
  'Noah', 'Nora', 'Oliver', 'Olga', 'Omar', 'Oscar', 'Paul', 'Paula', 'Peter', 'Rosa',
  'Ruth', 'Sam', 'Sara', 'Simon', 'Sofia', 'Sven', 'Tara', 'Theo', 'Tom', 'Ursula',
  'Vera', 'Victor', 'Walter', 'Wendy', 'Yara', 'Yusuf', 'Zoe', 'Zora', 'Nils', 'Lara',
];

/** Surnames. */
export const LAST_NAMES: readonly string[] = [
  'Adler', 'Baker', 'Berg', 'Brooks', 'Brown', 'Carter', 'Clark', 'Cole', 'Cooper', 'Cruz',
  'Dahl', 'Davis', 'Dunn', 'Ellis', 'Evans', 'Falk', 'Fischer', 'Fox', 'Garcia', 'Gray',
  'Green', 'Hall', 'Hansen', 'Hart', 'Hill', 'Holm', 'Hughes', 'Hunt', 'Jensen', 'Jones',
  'Kane', 'Keller', 'King', 'Klein', 'Lang', 'Lee', 'Lewis', 'Lund', 'Marsh', 'Meyer',
  'Miller', 'Moore', 'Morris', 'Nash', 'Novak', 'Olsen', 'Owen', 'Park', 'Perez', 'Price',
  'Reed', 'Reyes', 'Rossi', 'Ruiz', 'Santos', 'Schmidt', 'Shaw', 'Silva', 'Stone', 'Strand',
  'Taylor', 'Turner', 'Vogel', 'Wagner', 'Walker', 'Ward', 'Webb', 'Weber', 'West', 'White',
  'Wolf', 'Wood', 'Young', 'Berger', 'Costa', 'Lindqvist', 'Moreau', 'Nowak', 'Petrov', 'Quinn',
];

/** Street names, without their kind. */
export const STREET_NAMES: readonly string[] = [
  'Acorn', 'Alder', 'Amber', 'Apple', 'Ash', 'Aspen', 'Bay', 'Beech', 'Birch', 'Bluebell',
  'Brook', 'Cedar', 'Cherry', 'Chestnut', 'Clover', 'Copper', 'Coral', 'Daisy', 'Elm', 'Fern',
  'Field', 'Fir', 'Garden', 'Glen', 'Granite', 'Hazel', 'Heather', 'Hill', 'Holly', 'Iris',
  'Ivy', 'Juniper', 'Lake', 'Larch', 'Laurel', 'Lilac', 'Linden', 'Maple', 'Meadow', 'Mill',
  'Mint', 'Moss', 'Oak', 'Olive', 'Orchard', 'Pebble', 'Pine', 'Poplar', 'Quarry', 'Rain',
  'River', 'Rose', 'Rowan', 'Sage', 'Silver', 'Spring', 'Spruce', 'Station', 'Stone', 'Sun',
  'Thistle', 'Tulip', 'Valley', 'Violet', 'Walnut', 'Willow', 'Wind', 'Yew',
];

/** Street kinds: the word after a street's name. */
export const STREET_KINDS: readonly string[] = [
  'Street', 'Road', 'Lane', 'Avenue', 'Way', 'Close', 'Court', 'Drive', 'Place', 'Row',
  'Square', 'Terrace', 'Walk', 'Gardens', 'Hill', 'Park', 'Grove', 'Crescent', 'Mews', 'Path',
];

/** Town names made from ordinary words. */
export const CITIES: readonly string[] = [
  'Ashby Cross', 'Bayford', 'Beechmouth', 'Birchfield', 'Brookhaven', 'Cedarburg', 'Clearwater Bay', 'Coldbrook', 'Copperton', 'Dalewick',
  'Deepwell', 'Eastmere', 'Elmstead', 'Fairhollow', 'Fernbridge', 'Foxmoor', 'Glenrock', 'Goldhaven', 'Greystone', 'Hazelport',
  'Highmoor', 'Hollowford', 'Ironbridge', 'Kingsmere', 'Lakeby', 'Larkfield', 'Longmarsh', 'Maplecross', 'Marshby', 'Meadowvale',
  'Millbrook', 'Mossley Green', 'Northwick', 'Oakhollow', 'Oldcastle', 'Pebbleton', 'Pinecrest', 'Quarrytown', 'Ravensholm', 'Redcliff',
  'Riverby', 'Rosewell', 'Saltmarsh', 'Sandhaven', 'Silverdale', 'Southmere', 'Springvale', 'Stonebury', 'Summerfield', 'Thornbury',
  'Upper Brackley', 'Valewood', 'Westbrook', 'Whitmoor', 'Willowby', 'Windmere', 'Winterbourne', 'Woodhaven', 'Yarrowfield', 'Yewdale',
];
